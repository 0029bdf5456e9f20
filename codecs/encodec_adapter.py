"""EnCodec 24 kHz (Meta, `encodec` package) behind the `Codec` interface.

75 frames per second, codebooks of 1024 entries; the bandwidth picks how many residual
codebooks are used: 1.5 / 3 / 6 / 12 / 24 kbps = 2 / 4 / 8 / 16 / 32 codebooks. The model is
causal, so zero padding at the end of a clip never changes the codes of earlier frames.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from tts.errors import ConfigError

from .base import Codec
from .weights import PretrainedWeights, load_weights_into, read_state_dict, resolve_weights

BANDWIDTHS: dict[float, int] = {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16, 24.0: 32}
_FILENAME = "encodec_24khz-d7cc33bc.th"
_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + _FILENAME


def _hub_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / _FILENAME


def _download(timeout: float) -> Path:
    # The URL and hash are encodec's own (EncodecModel._get_pretrained); we only fetch the
    # file into the same torch-hub cache and then read it with weights_only=True ourselves.
    target = _hub_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(ENCODEC_24K.url, str(target), hash_prefix="d7cc33bc")
    return target


ENCODEC_24K = PretrainedWeights("encodec-24k", _FILENAME, _URL, _hub_file, _download)


class EncodecCodec(Codec):
    sample_rate = 24_000
    samples_per_frame = 320
    codebook_size = 1024

    def __init__(
        self,
        bandwidth: float = 6.0,
        pretrained: bool = True,
        checkpoint: str | Path | None = None,
        allow_download: bool | None = None,
        device: str | torch.device = "cpu",
        allow_unsafe_pickle: bool = False,
    ) -> None:
        from encodec import EncodecModel  # imports torchaudio: keep it lazy

        if float(bandwidth) not in BANDWIDTHS:
            raise ConfigError(
                f"EnCodec 24 kHz bandwidth {bandwidth!r} kbps is not one of {sorted(BANDWIDTHS)}"
            )
        self.bandwidth = float(bandwidth)
        self.n_codebooks = BANDWIDTHS[self.bandwidth]
        self.name = f"encodec-24k@{self.bandwidth:g}kbps"
        with warnings.catch_warnings():  # encodec uses the deprecated torch weight_norm
            warnings.simplefilter("ignore", FutureWarning)
            model = EncodecModel.encodec_model_24khz(pretrained=False)
        if pretrained:
            path = resolve_weights(ENCODEC_24K, checkpoint, allow_download)
            load_weights_into(model, read_state_dict(path, allow_unsafe_pickle), str(path))
        model.set_target_bandwidth(self.bandwidth)
        self.model = model.eval().to(device)
        self.pretrained = pretrained

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        emb = self.model.encoder(wav)
        codes = self.model.quantizer.encode(emb, self.model.frame_rate, self.bandwidth)
        return codes.transpose(0, 1)  # quantizer gives [K, B, F]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        emb = self.model.quantizer.decode(codes.transpose(0, 1))
        return self.model.decoder(emb)[:, 0, :]
