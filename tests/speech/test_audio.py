import struct

import numpy as np
import pytest
from conftest import encode, recording, write_wav

from talkinghead import AudioDecodeError, AudioTooLongError, EmptyAudioError, InputNotFoundError
from talkinghead.speech import SAMPLE_RATE, Audio, load_audio


def test_wav_decodes_to_16k_mono_int16():
    audio = load_audio(recording("goforward"))
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.int16 and audio.samples.ndim == 1
    assert audio.duration == pytest.approx(2.78625, abs=1e-4)


@pytest.mark.parametrize(
    "name, codec, rate, layout, container",
    [
        ("speech.mp3", "libmp3lame", 44100, "mono", None),
        ("speech.ogg", "libopus", 48000, "mono", "ogg"),
        ("speech.webm", "libopus", 24000, "stereo", "webm"),
        ("speech.flac", "flac", 16000, "mono", None),
        ("speech.m4a", "aac", 44100, "stereo", "mp4"),
        ("speech-8k.wav", "pcm_s16le", 8000, "mono", None),
        ("speech-48k-stereo.wav", "pcm_s16le", 48000, "stereo", None),
        ("speech-24bit.wav", "pcm_s24le", 32000, "mono", None),
    ],
)
def test_every_format_decodes_to_the_same_speech(tmp_path, name, codec, rate, layout, container):
    source = load_audio(recording("librivox-0880"))
    path = encode(recording("librivox-0880"), tmp_path / name, codec=codec, rate=rate, layout=layout, container=container)
    audio = load_audio(path)
    # Encoder padding and priming add at most a few tens of milliseconds.
    assert audio.duration == pytest.approx(source.duration, abs=0.08)
    # The speech itself survives: loudness envelopes of source and decoded copy agree.
    n = min(len(source.samples), len(audio.samples)) // 160 * 160
    env_a = np.abs(source.float32()[:n]).reshape(-1, 160).mean(axis=1)
    env_b = np.abs(audio.float32()[:n]).reshape(-1, 160).mean(axis=1)
    shift = max(range(-5, 6), key=lambda s: np.corrcoef(np.roll(env_b, s), env_a)[0, 1])
    assert np.corrcoef(np.roll(env_b, shift), env_a)[0, 1] > 0.9


def test_bytes_and_file_objects_are_accepted():
    path = recording("goforward")
    from_bytes = load_audio(path.read_bytes())
    with open(path, "rb") as f:
        from_file = load_audio(f)
    assert np.array_equal(from_bytes.samples, load_audio(path).samples)
    assert np.array_equal(from_file.samples, from_bytes.samples)


def test_from_array_resamples():
    tone = np.sin(2 * np.pi * 220 * np.arange(44100) / 44100)
    audio = Audio.from_array(tone, 44100)
    assert audio.duration == pytest.approx(1.0, abs=1e-3)
    assert np.abs(audio.float32()).max() == pytest.approx(1.0, abs=0.02)


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_zero_length_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_text_renamed_wav(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    with pytest.raises(AudioDecodeError, match="not a supported audio file"):
        load_audio(tmp_path / "notes.wav")


def test_corrupt_wav(tmp_path):
    data = bytearray(recording("goforward").read_bytes())
    data[12:60] = b"\xff" * 48  # smash the fmt chunk
    (tmp_path / "corrupt.wav").write_bytes(bytes(data))
    with pytest.raises(AudioDecodeError):
        load_audio(tmp_path / "corrupt.wav")


def test_truncated_mp3_keeps_what_decodes(tmp_path):
    path = encode(recording("librivox-0870"), tmp_path / "speech.mp3", codec="libmp3lame", rate=16000)
    data = path.read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) // 2])
    audio = load_audio(tmp_path / "cut.mp3")
    assert 2.5 < audio.duration < 4.5


def test_one_sample_file(tmp_path):
    with pytest.raises(EmptyAudioError, match="too short"):
        load_audio(write_wav(tmp_path / "one.wav", np.array([1000])))


def test_longer_than_the_maximum(tmp_path):
    with pytest.raises(AudioTooLongError, match="maximum"):
        load_audio(recording("librivox-0870"), max_duration=3.0)


def _wav_bytes(format_tag: int, channels: int, bits: int, data: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A RIFF WAV with any header, as a hostile or broken writer makes them."""
    block = channels * max(bits // 8, 1)
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("format_tag, bits", [(0, 16), (0xFFFE, 16), (0xFFFF, 16), (1, 0)], ids=["tag-0", "extensible-without-extension", "tag-ffff", "0-bit"])
def test_wav_encodings_without_a_decoder_are_refused(format_tag, bits):
    speech = load_audio(recording("cards-001")).samples.tobytes()
    with pytest.raises(AudioDecodeError, match="cannot decode"):
        load_audio(_wav_bytes(format_tag, 1, bits, speech))


def test_float_wav_with_nan_and_inf_samples_decodes_to_speech(tmp_path):
    """NaN samples become silence and infinite ones full scale: neither reaches the analysis."""
    speech = load_audio(recording("cards-001")).samples.astype(np.float32) / 32768.0
    broken = speech.copy()
    broken[1000:1200], broken[5000], broken[6000] = np.nan, np.inf, -np.inf
    audio = load_audio(_wav_bytes(3, 1, 32, broken.tobytes()))
    assert len(audio.samples) == len(speech)
    assert np.abs(audio.samples[1010:1190]).max() == 0
    assert audio.samples[5000] == 32767 and audio.samples[6000] <= -32767
    keep = np.ones(len(speech), bool)
    keep[[5000, 6000]] = False
    keep[1000:1200] = False
    assert np.abs(audio.samples[keep].astype(int) - np.round(speech[keep] * 32768).astype(int)).max() <= 2
