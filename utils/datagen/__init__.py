"""Stage 2, the training data: comments for label sets from an LLM (OpenAI or Gemini) or the
offline composer, through one resumable, rate-limited runner (``python -m utils generate``).

Modules and the names they offer (imported from the module):

- ``runner``: ``generate_dataset`` (label strings, or photos with their labels),
  ``OfflineBackend``, ``make_backend``, the ``generate`` command (its
  ``--from-photos`` is run from ``utils.pipeline.photo_data``, which has the detectors);
- ``calls``: one input's answer: ``RateLimiter``, retries with backoff, regeneration of an answer that
  fails the checks or is refused (``first_valid_comment``, ``answer_requests``);
- ``base``: what the runner, backends and Batch path share: ``Request``, ``Completion``,
  ``Backend``, ``RetryableError``, ``RunSummary``, ``PhotoSource``, output-row bookkeeping;
- ``prompt``: ``build_messages``, the chat messages asking for one comment in a style;
- ``backends``: ``OpenAIBackend``, ``GeminiBackend`` (text and vision), keys from the environment or ``.env``;
- ``images``: photos as sent to a vision model (upright, downscaled JPEG) and the image tokens they cost;
- ``batch``: ``run_openai_batch``, the OpenAI Batch API path;
- ``translation``: the LLM translation of the 601 OIV7 class names and its checks.
"""
