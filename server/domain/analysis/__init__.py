"""Answer analysis: delivery from word timings, content against the question."""
