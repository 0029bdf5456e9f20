"""Offline evaluation judges and metrics (Whisper-base ASR for CER, spectral distances, STOI)."""
