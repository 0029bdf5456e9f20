"""Codec adapters (EnCodec, DAC) and our own low-frame-rate speech codec; imported as `tts.codecs`."""
