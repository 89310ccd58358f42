"""The web page: drop a photo, read what was found in it and a warm Korean comment (``make app``).

A Gradio Blocks app driven by one :class:`~utils.pipeline.comment_pipeline.CommentPipeline`, loaded once when the
page is built. Nothing is fetched from the internet: analytics are off, the theme uses fonts
that ship inside Gradio, and Hangul is drawn with the NanumGothic of ``koreanize-matplotlib``,
which the app serves itself at ``/fonts/`` (a visitor without Korean fonts, such as Debian's
Chromium, would otherwise see empty boxes).

Bad uploads (not an image, a truncated JPEG, an empty file) get a message in the page naming
the file and the problem, and the app stays up. Photos larger than
:data:`utils.photos.MAX_SIDE` on their long side (e.g. 40 megapixels) are analysed downscaled
to that size, and the page says so. One photo is analysed at a time: Gradio's queue serves
visitors in turn, so two requests never share the pipeline at once.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import gradio as gr
from fontTools.ttLib import TTFont
from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from utils import labels as label_vocab
from utils.photos import MAX_SIDE, open_image
from utils.pipeline.comment_pipeline import CommentPipeline, PhotoResult, is_known_label, sample_photos
from utils.pipeline.vision_writer import writers_with_keys
from utils.plots import korean_font_path
from utils.text.styles import all_styles

DEFAULT_PORT = 7860
DISPLAY_SIDE = 1600  # the annotated photo is shown at most this big; the page needs no more
MAX_UPLOAD = "100mb"  # a 40-megapixel PNG is ~60-100 MB; anything bigger is refused by Gradio
ANOTHER_COMMENT_TRIES = 8  # seeds tried by "다시 쓰기" to find a comment unlike the one shown

FONT_CSS = """
@font-face { font-family: "NanumGothic"; src: url("/fonts/NanumGothic.ttf") format("truetype");
             font-weight: 400; font-display: block; }
@font-face { font-family: "NanumGothic"; src: url("/fonts/NanumGothicBold.ttf") format("truetype");
             font-weight: 700; font-display: block; }
#status:empty { display: none; }
"""

INTRO = """# SNS 사진 댓글 (SNS photo comment)
사진을 끌어 놓거나 올리거나 붙여넣으면(예시 사진을 눌러도 됩니다) 표정과 사물을 찾아 라벨을 붙이고,
어울리는 짧은 한국어 댓글을 씁니다. 라벨을 고친 뒤 Enter를 누르면 그 라벨로 댓글을 다시 쓰고, 말투를 고르면
그 말투로 다시 씁니다.

*Drop, upload or paste a photo (or click an example): the page finds emotions and objects, shows
them as Korean labels and writes a short Korean comment. Edit the labels and press Enter to get
a comment for your labels; pick a style to have it rewritten in that style.*"""

# The writer menu (shown when an API key is set): the local model, or a vision LLM that sees the photo.
WRITER_NAMES = {
    "t5": "T5 (이 컴퓨터의 모델, the local model)",
    "openai": "OpenAI 비전 (사진을 보냄, sends the photo)",
    "gemini": "Gemini 비전 (사진을 보냄, sends the photo)",
}

STAGE_NAMES = {
    "load": "읽기 load",
    "detect": "검출 detect",
    "generate": "댓글 generate",
    "annotate": "표시 annotate",
}


@lru_cache(maxsize=2)
def web_font(bold: bool = False) -> bytes:
    """NanumGothic as browsers accept it. Chromium's font sanitizer (OTS) rejects the whole file
    because of an empty VTT source table (TSI3); the VTT tables (TSI*) only matter to a font
    editor, so they are dropped."""
    font = TTFont(korean_font_path(bold=bold))
    for tag in [tag for tag in font.keys() if tag.startswith("TSI")]:  # noqa: SIM118 (no TTFont.__iter__)
        del font[tag]
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def _font_response(request: Request) -> Response:
    bold = {"NanumGothic.ttf": False, "NanumGothicBold.ttf": True}.get(request.path_params["name"])
    if bold is None:
        return Response("no such font", status_code=404)
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(web_font(bold), media_type="font/ttf", headers=headers)


def disable_telemetry() -> None:
    """Gradio and the Hugging Face hub send usage data and check for updates unless told not to."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


def details_markdown(result: PhotoResult) -> str:
    """The models that produced ``result`` and how long each stage took, Korean first."""
    detectors = list(result.models.get("detectors") or [])
    writer = str(result.models.get("comment") or "-")
    fallbacks = []
    if any("fallback" in name or "offline" in name for name in detectors):
        fallbacks.append("오프라인 기본 검출기 (offline default detectors: no YOLO weights given or found)")
    if "composer" in writer:
        fallbacks.append("문장 조합기가 댓글을 씀 (the offline composer wrote the comment)")
    if " did not: " in writer:  # utils.pipeline.comment_pipeline.write_photo_comments
        fallbacks.append(
            "비전 모델 대신 로컬 모델이 씀 (the local model wrote: the vision LLM's answer failed)"
        )
    timings = " · ".join(
        f"{STAGE_NAMES.get(stage, stage)} {seconds:.2f} s" for stage, seconds in result.timings.items()
    )
    return "\n".join(
        [
            "**모델 (models)**",
            f"- 검출기 (detectors): {', '.join(detectors) or '없음 (none: labels given)'}",
            f"- 댓글 (comment writer): {writer}",
            f"- 대체 경로 (fallbacks used): {'; '.join(fallbacks) or '없음 (none)'}",
            "",
            f"**단계별 시간 (timings)**: {timings or '-'}",
        ]
    )


def problem_message(problem: str) -> str:
    return f"⚠️ **사진을 쓸 수 없어요 (cannot use this photo)** — {problem}"


class CommentPage:
    """The page's event handlers around one pipeline (kept apart from the layout to be testable)."""

    def __init__(self, pipeline: CommentPipeline) -> None:
        self.pipeline = pipeline

    def on_photo(self, upload: dict | None, style: str | None = None, writer: str | None = None) -> tuple:
        """An uploaded photo → (annotated photo, labels, comment, details, status, seed); ``writer``
        (the menu's ``t5``, ``openai``, ``gemini``) writes its comment, None keeps the pipeline's."""
        if writer:
            self.pipeline.use_writer(writer)
        if not upload:
            return None, "", "", "", "", self.pipeline.seed
        path = Path(upload["path"])
        name = upload.get("orig_name") or path.name
        with tempfile.TemporaryDirectory(prefix="sns-app-") as out_dir:
            [result] = self.pipeline.run([path], out_dir=out_dir, progress=False, style=style or None)
            if not result.ok:
                problem = (result.error or "").replace(str(path), name)
                return None, "", "", "", problem_message(problem), self.pipeline.seed
            annotated = _display_copy(Path(result.annotated))
        status = f"✅ {name}" + _downscale_note(path)
        if not result.labels:
            status += " — 알아본 것이 없어 일반적인 댓글을 썼어요 (nothing recognised: a general comment)"
        return annotated, result.labels, result.comment, details_markdown(result), status, self.pipeline.seed

    def on_labels(self, labels: str, style: str | None = None, seed: int | None = None) -> tuple:
        """Edited labels → (labels as the pipeline reads them, comment, details, status, seed)."""
        [result] = self.pipeline.comment_on_labels([labels or ""], seed=seed, style=style or None)
        seed = self.pipeline.seed if seed is None else seed
        if not result.ok:
            return labels, "", "", f"⚠️ **라벨이 비었어요 (no labels)** — {result.error}", seed
        unknown = [x for x in label_vocab.parse_labels(result.labels, strict=False) if not is_known_label(x)]
        status = "✅ 라벨로 댓글을 썼어요 (comment for your labels)"
        if unknown:
            status += f" — 모르는 라벨은 글자 그대로 썼어요 (unknown, kept as written): {', '.join(unknown)}"
        return result.labels, result.comment, details_markdown(result), status, seed

    def on_another(self, labels: str, shown: str, seed: int | None, style: str | None = None) -> tuple:
        """ "다시 쓰기": a comment for the same labels that differs from the one shown."""
        seed = self.pipeline.seed if seed is None else seed
        answer = self.on_labels(labels, style, seed + 1)
        for next_seed in range(seed + 2, seed + 1 + ANOTHER_COMMENT_TRIES):
            if not answer[1] or answer[1] != shown:
                break
            answer = self.on_labels(labels, style, next_seed)
        return answer

    def on_style(self, labels: str, style: str) -> tuple:
        """Another style rewrites the comment for the labels shown; with no labels yet, nothing changes."""
        if not (labels or "").strip(" ,"):
            return tuple(gr.skip() for _ in range(5))
        return self.on_labels(labels, style)


def _display_copy(annotated: Path) -> Image.Image:
    """The annotated photo in memory (its temporary folder is about to go), at most DISPLAY_SIDE."""
    with Image.open(annotated) as image:
        image.load()
        image.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
        return image.copy()


def _downscale_note(path: Path) -> str:
    with open_image(path) as image:
        width, height = image.size
    if max(width, height) <= MAX_SIDE:
        return ""
    return (
        f" — 큰 사진({width}×{height}, {width * height / 1e6:.0f} MP)은 긴 변 {MAX_SIDE} px로 줄여서 "
        f"분석했어요 (analysed downscaled to {MAX_SIDE} px on the long side)"
    )


def build_app(pipeline: CommentPipeline | None = None) -> gr.Blocks:
    """The page. ``pipeline`` defaults to ``CommentPipeline()`` (models resolved as in the CLI)."""
    disable_telemetry()
    page = CommentPage(pipeline or CommentPipeline())
    with gr.Blocks(title="SNS 사진 댓글 (SNS photo comment)", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        seed = gr.State(page.pipeline.seed)
        with gr.Row():
            with gr.Column():
                photo = gr.Image(
                    label="사진 (photo)",
                    type="filepath",
                    sources=["upload", "clipboard"],
                    elem_id="photo",
                )
                examples = sample_photos()
                gr.Examples(
                    [[str(p)] for p in examples],
                    inputs=[photo],
                    label="예시 사진 (example photos)",
                    example_labels=[p.name for p in examples],
                )
            with gr.Column():
                annotated = gr.Image(
                    label="찾은 것 (what was found)", format="jpeg", interactive=False, elem_id="annotated"
                )
                labels = gr.Textbox(
                    label="라벨 (labels): 고치고 Enter (edit, then press Enter)",
                    placeholder="기쁨, 안경, 나무",
                    elem_id="labels",
                )
                style = gr.Dropdown(
                    [(str(s), s.key) for s in all_styles()],
                    value=page.pipeline.style.key,
                    label="말투 (comment style)",
                    elem_id="style",
                )
                writers = writers_with_keys()
                writer = gr.Dropdown(
                    [(WRITER_NAMES[name], name) for name in writers],
                    value=page.pipeline.writer if page.pipeline.writer in writers else "t5",
                    label="댓글 작성기 (comment writer): 사진에 댓글을 쓰는 모델",
                    visible=len(writers) > 1,
                    elem_id="writer",
                )
                comment = gr.Textbox(label="댓글 (comment)", interactive=False, elem_id="comment")
                with gr.Row():
                    label_button = gr.Button("라벨로 댓글 쓰기 (comment on labels)")
                    another = gr.Button("다시 쓰기 (another comment)", variant="primary", elem_id="another")
                status = gr.Markdown(elem_id="status")
                details = gr.Markdown(elem_id="details")
        photo.change(
            page.on_photo,
            inputs=[photo, style, writer],
            outputs=[annotated, labels, comment, details, status, seed],
            preprocess=False,  # bad files reach on_photo, which names the problem, instead of failing in Gradio
            api_name="comment_on_photo",
        )
        writer.change(  # another writer comments on the photo shown
            page.on_photo,
            inputs=[photo, style, writer],
            outputs=[annotated, labels, comment, details, status, seed],
            preprocess=False,
            api_name=False,
        )
        for trigger in (labels.submit, label_button.click):
            trigger(
                page.on_labels,
                inputs=[labels, style],
                outputs=[labels, comment, details, status, seed],
                api_name="comment_on_labels" if trigger == labels.submit else False,
            )
        another.click(
            page.on_another,
            inputs=[labels, comment, seed, style],
            outputs=[labels, comment, details, status, seed],
            api_name="another_comment",
        )
        style.change(
            page.on_style,
            inputs=[labels, style],
            outputs=[labels, comment, details, status, seed],
            api_name=False,
        )
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


def launch(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, block: bool = True) -> str:
    """Serve ``demo`` with the Korean web font and return its URL (``block=False`` returns at once)."""
    fonts = Route("/fonts/{name}", _font_response, name="korean-fonts")
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        share=False,
        ssr_mode=False,
        max_file_size=MAX_UPLOAD,
        theme=gr.themes.Default(font=["NanumGothic", "ui-sans-serif", "sans-serif"]),
        css=FONT_CSS,
        app_kwargs={"routes": [fonts]},
    )
    url = f"http://{host}:{demo.server_port}"
    if block:
        print(f"웹 페이지 (web page): {url}   Ctrl+C로 끝내기 (to stop)", flush=True)
        demo.block_thread()
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.pipeline.app", description="the web page (Gradio)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--offline", action="store_true", help="never download; use local models")
    args = parser.parse_args(argv)
    return serve(CommentPipeline(offline=True if args.offline else None), host=args.host, port=args.port)


def serve(pipeline: CommentPipeline, *, host: str, port: int, block: bool = True) -> int:
    """Serve the page until Ctrl+C; 2 with a message when the port is taken."""
    demo = build_app(pipeline)
    try:
        launch(demo, host=host, port=port, block=block)
    except OSError:
        print(
            f"python -m utils.pipeline.app: error: 포트 {port}을(를) 쓸 수 없어요 (port {port} on {host} is in use); "
            f"try `make app PORT={port + 1}`",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
