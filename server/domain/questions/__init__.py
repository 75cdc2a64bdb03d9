"""Interview questions: a curated offline bank, tailored to the resume, or OpenAI.

- `types.py`: what a generator is asked for and what it gives back (no heavy
  imports: the interview repository reads these);
- `bank.py`: the curated bank, `server/data/question_bank.json`;
- `mix.py`: how many questions of each category an interview gets;
- `offline.py`: questions drawn from the bank;
- `openai_generator.py`: questions from a language model, the bank as fallback.

Nothing is imported here, so reading one part does not load the others.
"""
