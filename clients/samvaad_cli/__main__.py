from clients.samvaad_cli.cli import main

main()
