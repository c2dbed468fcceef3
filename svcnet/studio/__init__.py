"""``svcnet studio``: a local web app to paint scribbles on keyframes, preview them and colourise the clip.

``project`` (the clip and the project folder), ``preview`` (CPNet on one keyframe, scribbles carried to another
frame), ``jobs`` (the background colorize run whose state lives in the project folder) hold the logic; ``app`` what the
page shows (state, texts, videos); ``page`` is the Gradio page on top of them. Gradio is an optional dependency
(``pip install -e .[studio]``), imported only by ``page``.
"""
