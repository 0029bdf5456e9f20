"""Launch the Gradio demo: `python demo/app.py --model DIR` (same as `tts demo --model DIR`).

The app itself lives in `tts/demo_app.py` so that the installed package can serve it.
"""

from __future__ import annotations

from tts.demo_app import main

if __name__ == "__main__":
    raise SystemExit(main())
