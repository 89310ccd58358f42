"""Shared helpers of the SNS photo-comment project (SNS 사진 분석 댓글 및 피드백).

Notebooks narrate; the logic they run lives here, one small module per job.
"""

__version__ = "0.1.0"
