"""Stage 1, the comment text and its rules: what a good comment is, the data made of them, and
the offline composer that writes them without an LLM.

Modules and the names they offer (imported from the module, e.g.
``from utils.text.dataset import validate_comment``, so that importing one rule loads nothing else):

- ``dataset``: the comment dataset (reference JSON, JSON Lines, resumable appends, splits) and
  ``validate_comment``, the checks every comment passes;
- ``styles``: ``Style`` (speech level and tone), ``parse_style``, ``all_styles``, style mixes;
- ``style_check``: ``speech_level``, ``comment_tone``, ``style_problems`` (does a comment keep its style);
- ``phrases``: the phrase banks in ``data/phrases`` and their casual forms;
- ``words``: content words and mood cue words shared by the composer and its review;
- ``composer``: ``OfflineComposer``, a comment from a label string in any style;
- ``composer_review``: the editor's review of the composer (fault detectors and rates);
- ``labelsets``: seeded label-set sampling and the generalisation split.
"""
