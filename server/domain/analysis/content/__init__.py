"""Content of an answer, judged against its question: offline, or by OpenAI.

    analyser = create_content_analyser(chat)   # chat: JsonChat | None (openai_analyser.py)
    feedback = await analyser.analyse(question, transcript)

`ContentFeedback.analyzer` says who judged: "offline", "openai:<model>", or
"offline (openai failed: <kind>)" with kind one of `server.engines.llm_types.LlmErrorKind`
("timeout", "rate_limited", "server_error", "bad_json", "bad_answer" ...).

- `cues.py`: the phrases the offline rules look for;
- `measures.py`: coverage, relevance, depth, skills and STAR, measured offline;
- `findings.py`: the strengths and improvements the offline rules report;
- `offline.py`: the offline analyser, which puts those together;
- `openai_analyser.py`: the model's judgement, scored by the same rules, and the
  factory choosing between the two.

The weights that make one score of the sub-scores are in `analysis/scoring.py`.
Nothing is imported here, so reading one part does not load the others.
"""
