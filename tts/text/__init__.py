"""Multilingual text front end: normalisation, G2P, symbol inventory, sentence splitting."""
