"""Pure-Python core: expressions, questionnaire logic and (later) clinical rules. No Django imports."""
