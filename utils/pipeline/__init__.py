"""Stage 5, photo → labels → comment, the project's main job: ``CommentPipeline`` joins the
detectors (``utils.vision``) and a comment writer (``utils.lm``), and everything built on it.

Offered here: ``CommentPipeline``, ``PhotoResult``, ``sample_photos``, ``demo_photos`` and
``show_photo_results``. Modules:

- ``comment_pipeline``: the pipeline itself and the photo helpers it uses;
- ``cli``: the ``comment`` command;
- ``runs``: resumable, shardable runs over photo archives;
- ``real_photos``: the hand-labelled real-photo set and the ``evaluate-photos`` command;
- ``gallery``: the annotated photos in one figure;
- ``app``: the web page (``make app``);
- ``vision_writer``: a vision LLM (OpenAI, Gemini) writing on the photo itself (``comment --writer``);
- ``photo_data``: data grounded in photos, the ``generate`` command (``--from-photos``).
"""

from utils.pipeline.comment_pipeline import CommentPipeline as CommentPipeline
from utils.pipeline.comment_pipeline import PhotoResult as PhotoResult
from utils.pipeline.comment_pipeline import demo_photos as demo_photos
from utils.pipeline.comment_pipeline import sample_photos as sample_photos
from utils.pipeline.gallery import show_photo_results as show_photo_results
