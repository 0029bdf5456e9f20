"""Reference-clip handling, speaker and style encoders; imported as `tts.speakers`."""
