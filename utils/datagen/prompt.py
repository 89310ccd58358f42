"""The data-generation prompt: chat messages asking an LLM for one comment in a given style.

The default style's prompt is the one the project used before styles existed; another style
spells out its speech level and tone and shows an example written in that style. With the photo
attached (a vision model), the prompt asks the model to look at it and to name only the labels.
"""

from __future__ import annotations

import tossi

from utils.labels import parse_labels, split_labels
from utils.text.grounding import main_objects
from utils.text.styles import DEFAULT_STYLE, LEVELS, TONES, Style, parse_style

SYSTEM_MESSAGE = "당신은 SNS 사진에 자연스럽고 따뜻한 댓글을 다는 사람입니다. 항상 존댓말로 씁니다."
STYLED_SYSTEM_MESSAGE = (
    "당신은 SNS 사진에 자연스러운 댓글을 다는 사람입니다. 말투는 {level}, 어조는 {tone}입니다."
)
EXAMPLE_LABELS = "기쁨, 모자, 바다"
# One example comment per style, for EXAMPLE_LABELS (each passes validate_comment with its style).
EXAMPLES = {
    Style(
        "존댓말", "다정한"
    ): "환하게 웃는 얼굴이 정말 보기 좋아요! 😊 모자도 잘 어울리고 바다가 시원해 보여요.",
    Style("존댓말", "유쾌한"): "웃는 얼굴 완전 반칙이에요! 😆 모자 센스도 대박이고 바다까지 화보 같아요.",
    Style("존댓말", "차분한"): "잔잔한 미소가 편안해 보여요. 모자와 바다가 어우러진 고요한 풍경이네요 🌊",
    Style(
        "존댓말", "응원하는"
    ): "환한 미소 최고예요! 💪 모자도 잘 어울리고, 바다처럼 시원한 하루 힘차게 보내세요.",
    Style("반말", "다정한"): "환하게 웃는 얼굴 정말 보기 좋다! 😊 모자도 잘 어울리고 바다가 시원해 보여.",
    Style("반말", "유쾌한"): "웃는 얼굴 완전 반칙이야! 😆 모자 센스도 대박이고 바다까지 화보 같아.",
    Style("반말", "차분한"): "잔잔한 미소가 편안해 보여. 모자와 바다가 어우러진 고요한 풍경이네 🌊",
    Style("반말", "응원하는"): "환한 미소 최고야! 💪 모자도 잘 어울리고, 바다처럼 시원한 하루 힘차게 보내.",
}
EXAMPLE_COMMENT = EXAMPLES[DEFAULT_STYLE]
LEVEL_RULES = {
    "존댓말": "- 존댓말을 씁니다.",
    "반말": "- 반말을 씁니다: 친한 친구에게 말하듯 '~해', '~야', '~다', '~네'로 끝맺고, '~요'나 '~니다'로 끝나는 문장은 쓰지 않습니다.",
}
TONE_RULES = {
    "다정한": "- 어조는 다정하게 (warm): 따뜻하고 포근한 말로 씁니다.",
    "유쾌한": "- 어조는 유쾌하게 (playful): 재치 있고 신나게, '대박', '완전', '레전드' 같은 가벼운 말도 좋습니다.",
    "차분한": "- 어조는 차분하게 (calm): 잔잔하고 조용한 말로, 과장 없이 씁니다.",
    "응원하는": "- 어조는 응원하듯 (cheering): 힘을 북돋우는 응원의 말('화이팅', '응원해요' 같은)을 넣습니다.",
}


# With the photo attached: what the model should take from it, and what it must not do.
PHOTO_INTRO = "첨부한 SNS 사진을 직접 보고 댓글을 써 주세요. 사진 요소는 검출기가 사진에서 찾은 것입니다.\n"
PHOTO_RULES = [
    "- 사진의 분위기, 색, 장면, 표정을 보고 그 사진에만 어울리는 말로 씁니다.",
    "- 사물 이름은 사진 요소에 있는 것만 씁니다 (사진에 다른 것이 보여도 이름을 붙이지 않습니다).",
    "- 사람이 누구인지 추측하지 않고, 외모를 평가하지 않습니다.",
]


def naming_rule(labels: str) -> str:
    """What the comment must name: every object, or only the subjects (``main_objects``) when the
    labels also give furniture, tableware or parts beside them, which a person leaves out."""
    objects = split_labels(parse_labels(labels, strict=False))[1]
    subjects = main_objects(objects)
    others = [o for o in objects if o not in subjects]
    if not others:
        return "나머지 사물은 모두 그대로 언급합니다."
    return (
        f"사진의 주인공인 {tossi.postfix(', '.join(subjects), '은')} 그대로 언급합니다. "
        f"{tossi.postfix(', '.join(others), '은')} "
        "배경이니 빼도 되고, 넣는다면 주인공과 함께 씁니다 ('테이블 위 와인', '접시에 담긴 파스타')."
    )


def build_messages(
    labels: str, style: str | Style | None = None, *, photo: bool = False
) -> list[dict[str, str]]:
    """Chat messages asking for one comment on a photo described by ``labels``, in ``style``;
    ``photo``: the photo itself goes with them (the backend attaches it to the user message).

    The rules the reference only hinted at are explicit here, and each is checked afterwards.
    """
    style = parse_style(style)
    rules = [
        "- 사진에 대한 댓글 한 문장이나 두 문장만 씁니다.",
        "- 질문하지 않습니다 (물음표도, '~나요?' 같은 물음 어미도 쓰지 않습니다).",
        LEVEL_RULES[style.level],
        "- 감정 단어(기쁨, 슬픔, 분노, 공포)는 사진 속 표정이니 분위기로 반영하고, " + naming_rule(labels),
        "- 어울리는 이모지를 한두 개 넣습니다.",
        "- 80자를 넘기지 않습니다.",
    ]
    system = SYSTEM_MESSAGE
    if style != DEFAULT_STYLE:
        rules.insert(3, TONE_RULES[style.tone])
        level = f"{style.level}({LEVELS[style.level]})"
        system = STYLED_SYSTEM_MESSAGE.format(level=level, tone=f"{style.tone}({TONES[style.tone]})")
    if photo:
        rules[1:1] = PHOTO_RULES
    user = (
        (PHOTO_INTRO if photo else "SNS 사진의 요소를 보고 댓글을 써 주세요.\n")
        + "규칙:\n"
        + "\n".join(rules)
        + "\n\n"
        f"예시\nsns 사진 요소 : {EXAMPLE_LABELS}\nsns 댓글 : {EXAMPLES[style]}\n\n"
        f"sns 사진 요소 : {labels}\nsns 댓글 : "
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
