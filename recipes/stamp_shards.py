"""Let older token shards be read beside newer ones: record which encoder made their codes.

    python recipes/stamp_shards.py --shards runs/proof_tokens --codec tts/pretrained/default/codec
    python recipes/stamp_shards.py --shards runs/lm_draws --copy-of runs/proof_tokens

Shard folders are read together only when the same codes mean the same audio. Since codes_id
(`Codec.codes_id`: a fingerprint of the encoder side's settings and weights) is in every new
folder's index, folders whose codecs differ only in name and decoder (a decoder retrained over
a frozen encoder) read as one; older folders have only the codec's name. This checks, for
`--check` utterances of each folder spread over it, that `--codec` encodes their audio to exactly
the stored codes, then records its codes_id. LM-draw copies (recipes/lm_draws.py) keep the id
of the folder they are copied from; a copy made before that folder was stamped cannot be checked
by encoding (its codes are the LM's), so `--copy-of` gives it the stamped folder's id once both
list the same utterances with the same lengths.
"""

from __future__ import annotations

import argparse
import sys

from tts.codecs import load_codec
from tts.data.shards import inherit_codes_id, shard_roots, stamp_codes_id
from tts.errors import ConfigError


def main(argv: list[str] | None = None) -> dict[str, str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", required=True, help="token shard folder(s), comma-separated")
    ap.add_argument("--codec", help="codec checkpoint folder or registry name")
    ap.add_argument("--check", type=int, default=16, help="utterances encoded again per folder")
    ap.add_argument("--copy-of", help="a stamped folder these are LM-draw copies of")
    args = ap.parse_args(argv)
    if bool(args.codec) == bool(args.copy_of):
        raise ConfigError("give --codec (check the codes) or --copy-of (a stamped folder)")
    codec = load_codec(args.codec) if args.codec else None
    stamped = {}
    for root in shard_roots(args.shards):
        if codec is None:
            stamped[str(root)] = inherit_codes_id(root, args.copy_of)
            how = f"the same utterances as {args.copy_of}"
        else:
            stamped[str(root)] = stamp_codes_id(root, codec, check=args.check)
            how = f"{args.check} utterances encoded again"
        print(f"{root}: codes_id {stamped[str(root)][:16]}... ({how})")
    return stamped


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
