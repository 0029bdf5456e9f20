"""README-ready Markdown tables of whatever `run_evaluation` measured."""

from __future__ import annotations

from typing import Any

from tts.timing import STAGE_NAMES


def format_value(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_report(results: dict[str, Any]) -> str:
    """README-ready Markdown tables of whatever `run_evaluation` measured."""
    out: list[str] = []
    held = results.get("config", {}).get("held_out")
    if held:
        out += [
            f"Held-out set: {held['n']} utterances; fingerprints: texts and voices "
            f"`{held['texts']}`, audio `{held['audio']}` (runs compare only on equal texts).",
            "",
        ]
    machine = results.get("config", {}).get("machine")
    if machine:
        out += ["Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ".", ""]
    if "cer" in results:
        seeds = results["cer"].get("seeds") or []
        several = len(seeds) > 1 and any("model_cer" in i for i in results["cer"]["items"])
        drawn = f"; the model's column: the mean of seeds {', '.join(map(str, seeds))}" if several else ""  # fmt: skip
        out += [f"### Intelligibility (Whisper base CER, lower is better{drawn})", ""]
        # with the clip's own units (what the decoder makes of the true codes and units) or not
        codec = "engine audio through the codec"
        if results["cer"].get("codec_units"):
            codec += " and its units"
        if results["cer"].get("codec_text"):
            codec += ", told the text"
        head = f"| language | n | model | source engine | {codec} |"
        out += [head + (" model, by seed |" if several else "")]
        out += ["|---|---|---|---|---|" + ("---|" if several else "")]
        per_language = results["cer"]["per_language"]
        for lang, r in per_language.items():
            by_seed = " / ".join(format_value(v) for v in r.get("model_cer_by_seed", {}).values())
            out.append(
                f"| {lang} | {r['n']} | {format_value(r['model_cer'])} | "
                f"{format_value(r['engine_cer'])} | {format_value(r.get('codec_cer'))} |"
                + (f" {by_seed} |" if several else "")
            )
        capped = [
            lang
            for lang, r in per_language.items()
            for column in ("model_cer", "engine_cer", "codec_cer")
            if r.get(f"{column}_capped") is not None and r[f"{column}_capped"] != r[column]
        ]
        if capped:  # some sentence scored over 1 (Whisper looped): the means without the loops
            out += ["", "The same with each sentence's CER capped at 1 (a loop counts as one miss):", ""]  # fmt: skip
            out += [f"| language | model | source engine | {codec} |"]
            out += ["|---|---|---|---|"]
            for lang in dict.fromkeys(capped):
                r = per_language[lang]
                out.append(
                    f"| {lang} | {format_value(r['model_cer_capped'])} | "
                    f"{format_value(r['engine_cer_capped'])} | "
                    f"{format_value(r.get('codec_cer_capped'))} |"
                )
        voices = results["cer"].get("per_voice", {})
        if any(len(v) > 1 for v in voices.values()):  # one voice a language: the rows above
            out += ["", "Per held-out voice:", ""]
            out += [f"| language | voice | n | model | source engine | {codec} |"]
            out += ["|---|---|---|---|---|---|"]
            for lang, by_voice in voices.items():
                for voice, r in by_voice.items():
                    out.append(
                        f"| {lang} | {voice} | {r['n']} | {format_value(r['model_cer'])} | "
                        f"{format_value(r['engine_cer'])} | {format_value(r.get('codec_cer'))} |"
                    )
        out.append("")
    if "sim" in results:
        s = results["sim"]
        n = s.get("utterances_per_voice", 1)
        out += [f"### Voice similarity (Resemblyzer cosine, up to {n} utterances per voice)", ""]
        out += ["| model vs reference | model vs another clip | same voice (real) | different voice (real) |"]  # fmt: skip
        out += ["|---|---|---|---|"]
        out += [f"| {format_value(s['model'])} | {format_value(s.get('model_vs_clip'))} | {format_value(s['same_voice'])} | {format_value(s['different_voice'])} |"]  # fmt: skip
        cross = s.get("cross_lingual", {}).get("per_language", {})
        if cross:
            out += ["", f"Cross-lingual ({s['cross_lingual']['source']} reference):", ""]
            out += ["| " + " | ".join(cross) + " |", "|" + "---|" * len(cross)]
            out += ["| " + " | ".join(format_value(v) for v in cross.values()) + " |"]
        for name, j in s.get("judges", {}).items():
            out += ["", f"The same outputs and clips judged by `{name}` (`--sim-judge`):", ""]
            out += ["| model vs reference | model vs another clip | same voice (real) | different voice (real) | cross-lingual (mean) |"]  # fmt: skip
            out += ["|---|---|---|---|---|"]
            out += [f"| {format_value(j['model'])} | {format_value(j.get('model_vs_clip'))} | {format_value(j['same_voice'])} | {format_value(j['different_voice'])} | {format_value(j.get('cross_lingual', {}).get('mean'))} |"]  # fmt: skip
        out.append("")
    if "emotion" in results:
        e = results["emotion"]
        samples = len(e.get("texts", [None])) * e.get("seeds", 1) * e.get("voices", 1)
        out += [f"### Emotion control (shift vs neutral at the highest intensity, mean of {samples} utterances)", ""]  # fmt: skip
        if e.get("reference_voices"):
            out += [f"Voices: {', '.join(e['reference_voices'])}."]
        if e.get("pitch_range") is not None:
            out += [f"Every synthesis with pitch_range={e['pitch_range']} (not the emotion's)."]
        if e.get("label_prosody") is False:
            out += ["Label prosody off: the LM alone, no decoder F0 range, tempo or gain."]
        if out[-1] != "":
            out.append("")
        out += ["| emotion | F0 mean (st) | F0 range (st) | energy (dB) | duration/phoneme (%) "]
        out[-1] += "| articulation/phoneme (%) | monotonic | labelled direction |"
        out += ["|---|---|---|---|---|---|---|---|"]
        for name, r in e["emotions"].items():
            last = {k: v[-1] for k, v in r["shifts"].items()}
            out.append(
                f"| {name} | {format_value(last['f0_mean_st'], 2)} | "
                f"{format_value(last['f0_range_st'], 2)} | "
                f"{format_value(last['energy_db'], 2)} | {format_value(last['duration_pct'], 1)} | "
                f"{format_value(last.get('articulation_pct'), 1)} | "
                f"{format_value(r['monotonic'])} | {format_value(r['correct_direction'])} |"
            )
        out.append("")
    if "speed" in results:
        sp = results["speed"]
        threads = f"{sp['torch_threads']} thread" + ("" if sp["torch_threads"] == 1 else "s")
        out += [f"### Speed ({sp['language']}, {sp['device']}, {threads})", ""]
        out += ["| system | RTF | first-chunk latency (s) |", "|---|---|---|"]
        for name in ("model", "kokoro"):
            if sp.get(name):
                label = (
                    "this model (RTF one-shot, first chunk streamed)"
                    if name == "model"
                    else "Kokoro-82M ONNX (full)"
                )
                out.append(
                    f"| {label} | {format_value(sp[name]['rtf'])} | "
                    f"{format_value(sp[name]['first_chunk_s'])} |"
                )
        stages = (sp.get("model") or {}).get("stage_rtf")
        if stages:
            out += ["", "Where the model's one-shot time goes (RTF by stage):", ""]
            out += ["| stage | RTF |", "|---|---|"]
            out += [f"| {STAGE_NAMES.get(k, k)} | {format_value(v)} |" for k, v in stages.items()]
            rest = sp["model"]["rtf"] - sum(stages.values())
            out.append(f"| the rest (the loop between stages) | {format_value(rest)} |")
        out.append("")
    return "\n".join(out)
