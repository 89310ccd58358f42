"""Stage 2, the training data: comments for label sets from an LLM (OpenAI or Gemini) or the
offline composer, through one resumable, rate-limited runner (``python -m utils generate``).

Modules and the names they offer (imported from the module):

- ``runner``: ``generate_dataset``, ``OfflineBackend``, ``RateLimiter``, ``make_backend``, the
  ``generate`` command;
- ``base``: what the runner, backends and Batch path share: ``Request``, ``Completion``,
  ``Backend``, ``RetryableError``, ``RunSummary``, output-row bookkeeping;
- ``prompt``: ``build_messages``, the chat messages asking for one comment in a style;
- ``backends``: ``OpenAIBackend``, ``GeminiBackend``, keys from the environment or ``.env``;
- ``batch``: ``run_openai_batch``, the OpenAI Batch API path;
- ``translation``: the LLM translation of the 601 OIV7 class names and its checks.
"""
