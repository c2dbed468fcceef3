"""Shot detection on the multi-shot test film, shot lists (frame numbers, timecodes, errors), streaming memory."""

from __future__ import annotations

import json
import weakref
from fractions import Fraction

import numpy as np
import pytest
from film import FPS, SHOTS, build_film, film_shots, gray

from svcnet.data.frames import iter_video_frames, list_frames, read_rgb
from svcnet.data.shots import (
    DetectorSettings,
    Shot,
    detect_shots,
    iter_cut_scores,
    parse_shot_list,
    read_shot_list,
    shots_from_cuts,
    shots_option,
    shots_to_json,
)
from svcnet.errors import InputError

NTSC_FILM = float(FPS)  # 23.976...


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return build_film(tmp_path_factory.mktemp("film"))


def test_film_knows_its_cuts(film):
    lengths = [end - start for _, start, end in SHOTS]
    assert film.cuts == list(np.cumsum(lengths)[:-1])
    assert film.n_frames == sum(lengths) == len(list_frames(film.frames)) == len(list_frames(film.gt))
    assert sorted(int(p.stem) for p in film.scribbles.glob("*.png")) == [0, *film.cuts]
    record = json.loads((film.root / "film.json").read_text())
    assert record["cuts"] == film.cuts and record["fps"] == "24000/1001"


def test_film_video_has_its_rate_frames_and_sound(film):
    import av

    with av.open(str(film.video)) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.average_rate, video.frames) == ("h264", FPS, film.n_frames)
        assert (sound.codec_context.name, sound.rate) == ("aac", 48000)
        duration = float(film.n_frames / FPS)
        assert abs(float(sound.duration * sound.time_base) - duration) <= 1024 / 48000  # one AAC frame


def test_detects_exactly_the_cuts_of_the_video(film):
    assert detect_shots(iter_video_frames(film.video), NTSC_FILM) == film.shots
    assert detect_shots(iter_video_frames(film.video), FPS) == film.shots


def test_detects_exactly_the_cuts_of_the_frame_folder_and_the_colour_frames(film):
    assert detect_shots((read_rgb(p) for p in list_frames(film.frames)), NTSC_FILM) == film.shots
    assert detect_shots((read_rgb(p) for p in list_frames(film.gt)), NTSC_FILM) == film.shots


def test_one_clip_is_one_shot():
    frames, cuts = film_shots(SHOTS[1:2])
    assert cuts == []
    assert detect_shots(frames, 25.0) == [Shot(0, 30)]
    assert detect_shots([], 25.0) == []


def test_short_shots_are_found():
    frames, cuts = film_shots((("blackswan", 0, 3), ("dog", 0, 4), ("car-shadow", 0, 2)))
    assert cuts == [3, 7]
    assert detect_shots(iter(frames), 25.0) == [Shot(0, 3), Shot(3, 7), Shot(7, 9)]


def test_min_shot_length_suppresses_a_second_cut():
    frames, cuts = film_shots(SHOTS[:3], frames_per_shot=8)
    assert cuts == [8, 16]
    assert detect_shots(frames, 24.0) == [Shot(0, 8), Shot(8, 16), Shot(16, 24)]
    # at 0.5 s (12 frames) the cut at 8 comes too soon after the film's start; the one at 16 is then 16 frames in
    assert detect_shots(frames, 24.0, DetectorSettings(min_shot_seconds=0.5)) == [Shot(0, 16), Shot(16, 24)]


def test_detector_streams_without_keeping_frames():
    alive: list[weakref.ref] = []
    most_alive = 0

    def frames():
        nonlocal most_alive
        base, _ = film_shots(SHOTS[:2], frames_per_shot=15)
        for img in base:
            frame = img.copy()
            alive.append(weakref.ref(frame))
            del img
            most_alive = max(most_alive, sum(r() is not None for r in alive))
            yield frame
            del frame

    shots = detect_shots(frames(), 24.0)
    assert shots == [Shot(0, 15), Shot(15, 30)]
    assert len(alive) == 30
    assert most_alive == 2  # the frame being yielded and the one before it, still referenced by the caller's loop


def test_scores_depend_on_lightness_only():
    colour, _ = film_shots(SHOTS[:2], frames_per_shot=3)

    settings = DetectorSettings()
    assert list(iter_cut_scores(colour, settings)) == list(iter_cut_scores([gray(f) for f in colour], settings))


def test_shots_from_cuts_and_json():
    assert shots_from_cuts([], 5) == [Shot(0, 5)]
    assert shots_from_cuts([0, 2], 5) == [Shot(0, 2), Shot(2, 5)]
    assert shots_from_cuts([3], None) == [Shot(0, 3), Shot(3, None)]
    assert shots_from_cuts([], 0) == []
    with pytest.raises(ValueError, match="increasing"):
        shots_from_cuts([3, 3], 5)
    with pytest.raises(ValueError, match="increasing: 0 after 3"):
        shots_from_cuts([3, 0], 5)
    with pytest.raises(ValueError, match="past the last frame"):
        shots_from_cuts([5], 5)
    assert shots_to_json([Shot(0, 2), Shot(2, 5)]) == [{"start": 0, "end": 2}, {"start": 2, "end": 5}]
    assert len(Shot(2, 5)) == 3


def test_shot_list_frame_numbers_csv_and_comments(tmp_path):
    path = tmp_path / "cuts.csv"
    path.write_text("# editor export\n0, 25;55\n\n  75\t100 # two on a line\n120,\n")
    assert read_shot_list(path, 25.0, 150) == shots_from_cuts([25, 55, 75, 100, 120], 150)


def test_shot_list_timecodes_at_ntsc_film_rate():
    # 1.001 s is frame 24 at 24000/1001; HH:MM:SS:FF counts at the nominal rate 24 (SMPTE non-drop)
    text = "00:00:01.001\n00:00:02\n00:00:03:05\n00:01:00.000\n"
    shots = parse_shot_list(text, NTSC_FILM, 2000)
    assert [s.start for s in shots] == [0, 24, round(2 * NTSC_FILM), 3 * 24 + 5, round(60 * NTSC_FILM)]
    assert [s.start for s in parse_shot_list(text, FPS, 2000)] == [s.start for s in shots]  # an exact Fraction rate
    assert [s.start for s in parse_shot_list("00:00:00.5\n01:00:00:00", 25.0, None)] == [0, 12, 90000]
    assert parse_shot_list("", 25.0, 10) == [Shot(0, 10)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10\n2x\n", r"line 2: '2x' is neither a frame number nor a timecode \(HH:MM:SS.mmm or HH:MM:SS:FF\)"),
        ("10\n-3\n", r"line 2: '-3' is neither a frame number"),
        ("00:00:01:30\n", r"line 1: '00:00:01:30' has frame field 30; it must be below the nominal rate 25"),
        ("00:61:00.0\n", r"line 1: '00:61:00.0' is neither"),
        ("10\n# later\n5\n", r"line 3: cut '5' = frame 5 does not come after the previous cut \(frame 10, line 1\)"),
        ("10, 10\n", r"line 1: cut '10' = frame 10 does not come after"),
        ("10\n150\n", r"line 2: cut '150' = frame 150 is past the last frame \(149\)"),
        ("00:00:06.000\n", r"line 1: cut '00:00:06.000' = frame 150 is past the last frame"),
    ],
)
def test_shot_list_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "cuts.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_shot_list(path, 25.0, 150)
    assert str(path) in str(info.value)


def test_shot_list_file_errors(tmp_path):
    with pytest.raises(InputError, match="shot list not found"):
        read_shot_list(tmp_path / "missing.txt", 25.0, 10)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(InputError, match="cannot read shot list"):
        read_shot_list(bad, 25.0, 10)
    with pytest.raises(InputError, match="frame rate"):
        parse_shot_list("10", 0.0, 20)


def test_shots_option(tmp_path):
    assert shots_option("auto") == "auto"
    assert shots_option("none") == "none"
    path = tmp_path / "cuts.txt"
    path.write_text("5\n")
    assert shots_option(str(path)) == path
    with pytest.raises(InputError, match="expected auto, none or a shot list file"):
        shots_option(str(tmp_path / "nope.txt"))


def test_detector_settings_are_checked():
    with pytest.raises(InputError, match="threshold"):
        detect_shots([], 24.0, DetectorSettings(threshold=0.0))
    with pytest.raises(InputError, match="uint8 RGB"):
        detect_shots([np.zeros((4, 4), np.uint8)], 24.0)
    assert Fraction(24000, 1001) == FPS
