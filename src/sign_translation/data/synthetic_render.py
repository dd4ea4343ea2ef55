"""The synthetic signer: sign parameters, clip timelines (hand paths + one description per frame) and a renderer.

A sign is described the way sign linguistics describes one: handshape(s), location, movement, and an optional
non-manual (face) cue. `plan_clip` turns a gloss sequence into a timeline (rest pose, then for each sign a smooth
transition and the sign's own movement, then back to rest) with per-frame hand positions, handshapes, face cues and
a text description of every frame. `render_clip` draws that timeline with vectorised numpy (every shape is a union
of anti-aliased capsules evaluated for all frames at once, inside the shape's bounding box), so a 64-px clip of
60 frames takes about 20 ms.

Coordinates are fractions of the frame (x right, y down) for a canonical signer centred in the frame; the signer's
profile (offset, scale) maps them to pixels. The signer faces the camera, so the signer's right (dominant) hand
appears on the left half of the image.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field

import numpy as np

# --- sign parameters ------------------------------------------------------------------------------------------------

# name -> phrase used in the frame descriptions
HANDSHAPES: dict[str, str] = {
    "fist": "fist",
    "flat": "flat hand",
    "point": "pointing index finger",
    "V": "V hand",
    "open": "open hand with spread fingers",
    "C": "C-shaped hand",
}
# Geometry of each handshape for a signer of scale 1: palm radius and finger capsules (angle from the hand's axis in
# degrees, length, radius), all in frame fractions. Big and blunt on purpose: they must stay distinguishable at 32 px.
_SHAPE_GEOMETRY: dict[str, tuple[float, tuple[tuple[float, float, float], ...]]] = {
    "fist": (0.055, ()),
    "flat": (0.042, ((0.0, 0.085, 0.034),)),
    "point": (0.040, ((0.0, 0.110, 0.016),)),
    "V": (0.040, ((-26.0, 0.100, 0.016), (26.0, 0.100, 0.016))),
    "open": (
        0.040,
        (
            (-80.0, 0.065, 0.014),
            (-36.0, 0.085, 0.014),
            (-12.0, 0.092, 0.014),
            (12.0, 0.092, 0.014),
            (36.0, 0.085, 0.014),
        ),
    ),
    "C": (0.034, ((-64.0, 0.080, 0.021), (64.0, 0.080, 0.021))),
}
SHAPE_NAMES: tuple[str, ...] = tuple(HANDSHAPES)

# name -> (position of the dominant (right) hand, phrase after "at"/"in", short noun for "moving from X to Y")
LOCATIONS: dict[str, tuple[tuple[float, float], str, str]] = {
    "forehead": ((0.50, 0.14), "at the forehead", "the forehead"),
    "temple": ((0.30, 0.20), "beside the head", "the side of the head"),
    "chin": ((0.50, 0.35), "at the chin", "the chin"),
    "right shoulder": ((0.33, 0.45), "at the right shoulder", "the right shoulder"),
    "left shoulder": ((0.67, 0.45), "at the left shoulder", "the left shoulder"),
    "chest": ((0.50, 0.56), "in front of the chest", "the chest"),
    "waist": ((0.50, 0.77), "at the waist", "the waist"),
    "neutral space right": ((0.17, 0.60), "in neutral space to the right", "the space to the right"),
    "neutral space left": ((0.80, 0.62), "in neutral space to the left", "the space to the left"),
}
LOCATION_NAMES: tuple[str, ...] = tuple(LOCATIONS)
# Where the non-dominant hand goes in a two-handed sign: the mirror image of the dominant hand's location.
_MIRRORED_LOCATION = {
    "right shoulder": "left shoulder",
    "left shoulder": "right shoulder",
    "neutral space right": "neutral space left",
    "neutral space left": "neutral space right",
}
# Two-handed signs at a central location place the hands this far left and right of the midline.
_CENTRAL_HALF_GAP = 0.09

# name -> phrase used in the frame descriptions
MOVEMENTS: dict[str, str] = {
    "up": "moving up",
    "down": "moving down",
    "side to side": "moving side to side",
    "circle": "circling",
    "arc": "moving in an arc",
    "tap": "tapping",
    "toward camera": "moving toward the camera",
    "twist": "twisting",
}
MOVEMENT_NAMES: tuple[str, ...] = tuple(MOVEMENTS)

# name -> phrase used in the frame descriptions ("face: ...")
FACE_CUES: dict[str, str] = {
    "eyebrows raised": "eyebrows raised",
    "eyebrows furrowed": "eyebrows furrowed",
    "mouth open": "mouth open",
    "head tilt": "head tilted to the side",
    "head shake": "head shaking",
}
FACE_CUE_NAMES: tuple[str, ...] = tuple(FACE_CUES)

_AMPLITUDE = 0.09  # size of a movement path (frame fractions, signer scale 1)
_HAND_ANGLE = 0.28  # radians: signing hands lean toward the midline
_REST = {"right": ((0.30, 0.87), -(math.pi - 0.15)), "left": ((0.70, 0.87), math.pi - 0.15)}
_SHOULDER = {"right": (0.33, 0.47), "left": (0.67, 0.47)}
_ARM_SEGMENT = 0.215  # upper arm = forearm length
_HEAD = ((0.50, 0.23), 0.105)  # centre, radius


@dataclass(frozen=True)
class SignParameters:
    """How one gloss is signed: handshape(s), location, movement and an optional face cue.

    `left_handshape` is None for one-handed signs (the left hand stays at rest); in two-handed signs the left hand
    mirrors the right hand's location and movement.
    """

    right_handshape: str
    location: str
    movement: str
    left_handshape: str | None = None
    face: str | None = None

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.right_handshape, HANDSHAPES, "right_handshape"),
            (self.location, LOCATIONS, "location"),
            (self.movement, MOVEMENTS, "movement"),
        ):
            if value not in allowed:
                raise ValueError(f"SignParameters.{what}={value!r}: expected one of {sorted(allowed)}")
        if self.left_handshape is not None and self.left_handshape not in HANDSHAPES:
            raise ValueError(
                f"SignParameters.left_handshape={self.left_handshape!r}: expected one of {sorted(HANDSHAPES)}"
            )
        if self.face is not None and self.face not in FACE_CUES:
            raise ValueError(f"SignParameters.face={self.face!r}: expected None or one of {sorted(FACE_CUES)}")

    @property
    def two_handed(self) -> bool:
        return self.left_handshape is not None

    def to_dict(self) -> dict:
        return {"hands": 2 if self.two_handed else 1, **asdict(self)}


def stable_hash(text: str) -> bytes:
    """SHA-256 of a string: stable across processes and Python versions (unlike the built-in `hash`)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def hashed_sign_parameters(gloss: str, attempt: int = 0) -> SignParameters:
    """Sign parameters derived from the gloss string alone: the same gloss is always signed the same way.

    `attempt` > 0 draws another, equally deterministic sign for the gloss; `sign_parameters_for` uses it to give a
    gloss whose first draw is already taken by another gloss of the corpus a distinct sign.

    Example:
        >>> hashed_sign_parameters("WETTER") == hashed_sign_parameters("WETTER")
        True
    """
    h = stable_hash("sign:" + gloss if attempt == 0 else f"sign:{gloss}#{attempt}")
    two_handed = h[0] % 5 < 2  # 40 % two-handed
    face_index = h[5] % (2 * len(FACE_CUE_NAMES) + 2)  # ~40 % carry a face cue
    return SignParameters(
        right_handshape=SHAPE_NAMES[h[1] % len(SHAPE_NAMES)],
        left_handshape=SHAPE_NAMES[h[2] % len(SHAPE_NAMES)] if two_handed else None,
        location=LOCATION_NAMES[h[3] % len(LOCATION_NAMES)],
        movement=MOVEMENT_NAMES[h[4] % len(MOVEMENT_NAMES)],
        face=FACE_CUE_NAMES[face_index] if face_index < len(FACE_CUE_NAMES) else None,
    )


# --- signers --------------------------------------------------------------------------------------------------------

_SKIN = (
    (0.96, 0.80, 0.69),
    (0.91, 0.71, 0.57),
    (0.80, 0.58, 0.42),
    (0.64, 0.44, 0.30),
    (0.47, 0.31, 0.21),
    (0.36, 0.23, 0.15),
)
_DARK_CLOTHES = (
    (0.10, 0.14, 0.36),
    (0.09, 0.09, 0.11),
    (0.07, 0.28, 0.16),
    (0.38, 0.07, 0.12),
    (0.25, 0.10, 0.36),
    (0.20, 0.21, 0.24),
)
_LIGHT_CLOTHES = ((0.82, 0.82, 0.85), (0.55, 0.72, 0.92), (0.60, 0.86, 0.70), (0.93, 0.86, 0.45), (0.92, 0.66, 0.72))
_LIGHT_BACKGROUNDS = (
    (0.72, 0.72, 0.72),
    (0.62, 0.72, 0.84),
    (0.80, 0.76, 0.66),
    (0.66, 0.78, 0.70),
    (0.84, 0.84, 0.88),
)
_DARK_BACKGROUNDS = (
    (0.22, 0.24, 0.28),
    (0.14, 0.22, 0.36),
    (0.18, 0.30, 0.22),
    (0.32, 0.26, 0.22),
    (0.28, 0.28, 0.30),
)
_HAIR = ((0.10, 0.07, 0.05), (0.28, 0.17, 0.09), (0.78, 0.64, 0.35), (0.55, 0.55, 0.55), (0.55, 0.22, 0.10))


def _luminance(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


@dataclass(frozen=True)
class SignerProfile:
    """How one signer looks and signs. Colours are RGB in [0, 1]; offset/scale place the body in the frame."""

    signer: int
    skin: tuple[float, float, float]
    clothing: tuple[float, float, float]
    background: tuple[float, float, float]
    hair: tuple[float, float, float]
    offset: tuple[float, float]
    scale: float
    speed: float  # multiplies the number of frames per sign (> 1: slower signing)
    texture: float  # amplitude of the background's low-frequency texture

    def to_dict(self) -> dict:
        return asdict(self)


def make_signer_profile(seed: int, signer: int) -> SignerProfile:
    """The `signer`-th signer of a corpus generated with `seed` (deterministic)."""
    rng = np.random.default_rng([seed, 0x5167, signer])
    skin = _SKIN[rng.integers(len(_SKIN))]
    # Clothes and background are chosen for contrast: dark clothes for light skin, light background behind dark
    # clothes, and the other way round, so hands stand out against the body and the body against the background.
    dark_clothes = _luminance(skin) > 0.5
    clothes = (_DARK_CLOTHES if dark_clothes else _LIGHT_CLOTHES)[rng.integers(5)]
    background = (_LIGHT_BACKGROUNDS if dark_clothes else _DARK_BACKGROUNDS)[rng.integers(5)]
    return SignerProfile(
        signer=signer,
        skin=tuple(float(c) for c in skin),
        clothing=tuple(float(c) for c in clothes),
        background=tuple(float(c) for c in background),
        hair=tuple(float(c) for c in _HAIR[rng.integers(len(_HAIR))]),
        offset=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.02, 0.04))),
        scale=float(rng.uniform(0.9, 1.05)),
        speed=float(rng.uniform(0.8, 1.25)),
        texture=float(rng.uniform(0.02, 0.07)),
    )


def vary_signer(profile: SignerProfile, rng: np.random.Generator) -> SignerProfile:
    """Per-video variation of a signer: camera placement, zoom, pace and lighting change a little between videos."""

    def shade(rgb, amount):
        return tuple(float(np.clip(c * amount, 0.0, 1.0)) for c in rgb)

    light = float(rng.uniform(0.92, 1.08))
    return SignerProfile(
        signer=profile.signer,
        skin=shade(profile.skin, light),
        clothing=shade(profile.clothing, light),
        background=shade(profile.background, float(rng.uniform(0.9, 1.1))),
        hair=profile.hair,
        offset=(profile.offset[0] + float(rng.normal(0, 0.012)), profile.offset[1] + float(rng.normal(0, 0.008))),
        scale=profile.scale * float(rng.uniform(0.97, 1.03)),
        speed=profile.speed * float(rng.uniform(0.9, 1.1)),
        texture=profile.texture,
    )


# --- timelines ------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Frame counts of a clip's phases, before the signer's speed factor."""

    frames_per_sign: int = 8
    transition_frames: int = 4
    rest_frames: int = 3


@dataclass
class ClipPlan:
    """Everything needed to render one clip, and everything its metadata says about it."""

    glosses: list[str]
    signer: SignerProfile
    num_frames: int
    tracks: dict[str, np.ndarray]  # per-frame arrays, see `plan_clip`
    descriptions: list[str]
    sign_spans: list[list[int]]
    render_seed: int
    noise: float
    extra: dict = field(default_factory=dict)


def _movement_path(movement: str, u: np.ndarray, amplitude: float):
    """Offsets (dx, dy), size factor and extra rotation of a hand along its movement, for u in [0, 1]."""
    zeros = np.zeros_like(u)
    dx, dy, size, turn = zeros, zeros, np.ones_like(u), zeros
    if movement == "up":
        dy = amplitude * 0.8 * (1.0 - 2.0 * u)
    elif movement == "down":
        dy = amplitude * 0.8 * (2.0 * u - 1.0)
    elif movement == "side to side":
        dx = amplitude * 0.8 * np.sin(2 * np.pi * 2 * u)
    elif movement == "circle":
        dx = amplitude * 0.75 * np.sin(2 * np.pi * u)
        dy = -amplitude * 0.75 * np.cos(2 * np.pi * u)
    elif movement == "arc":
        dx = amplitude * 0.9 * (2.0 * u - 1.0)
        dy = -amplitude * 0.9 * np.sin(np.pi * u)
    elif movement == "tap":
        dy = amplitude * 0.45 * np.abs(np.sin(2 * np.pi * u))
    elif movement == "toward camera":
        size = 1.0 + 0.75 * np.sin(np.pi * u)
        dy = amplitude * 0.2 * np.sin(np.pi * u)
    elif movement == "twist":
        turn = 1.1 * np.sin(2 * np.pi * 1.5 * u)
    return dx, dy, size, turn


def _sign_track(sign: SignParameters, hand: str, u: np.ndarray):
    """(x, y, size, angle) of one hand over a sign's own movement (canonical signer coordinates)."""
    (x0, y0), _, _ = LOCATIONS[sign.location]
    if sign.two_handed and abs(x0 - 0.5) < _CENTRAL_HALF_GAP:
        x0 = 0.5 - _CENTRAL_HALF_GAP
    side = 1.0 if hand == "right" else -1.0
    if hand == "left":  # the left hand mirrors the right one across the body's midline
        x0 = 1.0 - x0
    dx, dy, size, turn = _movement_path(sign.movement, u, _AMPLITUDE)
    angle = side * (_HAND_ANGLE + turn)
    return x0 + side * dx, y0 + dy, size, angle


def _rest_track(hand: str, n: int):
    (x, y), angle = _REST[hand]
    return np.full(n, x), np.full(n, y), np.ones(n), np.full(n, angle)


def _smooth_noise(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Low-pass filtered gaussian noise: a small, smooth wobble instead of frame-to-frame flicker."""
    raw = rng.normal(0.0, 1.0, n + 6)
    kernel = np.array([1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0]) / 16.0
    return scale * np.convolve(raw, kernel, mode="valid")[:n]


def _hand_phrase(shape: str, where: str, movement: str | None) -> str:
    phrase = f"{HANDSHAPES[shape]} {where}"
    return f"{phrase}, {MOVEMENTS[movement]}" if movement else phrase


def plan_clip(
    glosses: list[str],
    vocabulary: dict[str, SignParameters],
    signer: SignerProfile,
    rng: np.random.Generator,
    timing: Timing | None = None,
    noise: float = 0.015,
) -> ClipPlan:
    """Lay out a clip: rest, then per gloss a transition and the sign's own movement, then back to rest.

    Tracks (one value per frame): `{right,left}_{x,y,size,angle,shape}` (shape = index into `SHAPE_NAMES`), and for
    the face `brow_raise`, `brow_furrow`, `mouth_open`, `head_dx`, `head_angle`. `sign_spans[i]` is the
    [start, end) frame range of gloss i's own movement (transitions excluded).
    """
    timing = timing or Timing()
    signs = [vocabulary[g] for g in glosses]
    speed = signer.speed

    def frames(base: int, minimum: int) -> int:
        return max(minimum, int(round(base * speed * rng.uniform(0.85, 1.15))))

    # Phases: ("rest", n) | ("transition", n, index of the sign it leads into) | ("sign", n, sign index)
    phases: list[tuple] = [("rest", max(1, timing.rest_frames + int(rng.integers(0, 3))))]
    for i in range(len(signs)):
        phases.append(("transition", frames(timing.transition_frames, 2), i))
        phases.append(("sign", frames(timing.frames_per_sign, 4), i))
    phases.append(("transition", frames(timing.transition_frames, 2), len(signs)))
    phases.append(("rest", max(1, timing.rest_frames + int(rng.integers(0, 3)))))
    total = sum(p[1] for p in phases)

    keys = ("x", "y", "size", "angle")
    tracks: dict[str, np.ndarray] = {f"{h}_{k}": np.zeros(total) for h in ("right", "left") for k in keys}
    for h in ("right", "left"):
        tracks[f"{h}_shape"] = np.zeros(total, dtype=np.int64)
    for k in ("brow_raise", "brow_furrow", "mouth_open", "head_dx", "head_angle"):
        tracks[k] = np.zeros(total)
    descriptions: list[str] = []
    spans: list[list[int]] = []
    rest_shape = SHAPE_NAMES.index("flat")

    def hand_state(i: int, hand: str, at_end: bool):
        """Shape, location name (None = rest) and (x, y, size, angle) of a hand at the start/end of sign i."""
        if i < 0 or i >= len(signs):
            x, y, s, a = _rest_track(hand, 1)
            return rest_shape, None, (x[0], y[0], s[0], a[0])
        sign = signs[i]
        if hand == "left" and not sign.two_handed:
            x, y, s, a = _rest_track(hand, 1)
            return rest_shape, None, (x[0], y[0], s[0], a[0])
        shape = sign.right_handshape if hand == "right" else sign.left_handshape
        loc = sign.location if hand == "right" else _MIRRORED_LOCATION.get(sign.location, sign.location)
        x, y, s, a = _sign_track(sign, hand, np.array([1.0 if at_end else 0.0]))
        return SHAPE_NAMES.index(shape), loc, (x[0], y[0], s[0], a[0])

    start = 0
    for phase in phases:
        kind, n = phase[0], phase[1]
        sl = slice(start, start + n)
        hand_text: dict[str, list[str]] = {}
        face_text = ["neutral"] * n
        for hand in ("right", "left"):
            if kind == "rest":
                x, y, s, a = _rest_track(hand, n)
                shape = np.full(n, rest_shape)
                hand_text[hand] = ["resting at the side"] * n
            elif kind == "transition":
                i = phase[2]
                shape0, loc0, s0 = hand_state(i - 1, hand, at_end=True)
                shape1, loc1, s1 = hand_state(i, hand, at_end=False)
                f = (np.arange(n) + 1.0) / (n + 1.0)
                f = f * f * (3.0 - 2.0 * f)  # smoothstep: ease in and out
                x, y, s, a = ((1 - f) * v0 + f * v1 for v0, v1 in zip(s0, s1))
                shape = np.where(np.arange(n) < n / 2, shape0, shape1)
                texts = []
                for k in range(n):
                    shape_name = SHAPE_NAMES[shape[k]]
                    if loc0 == loc1 and loc0 is None:
                        texts.append("resting at the side")
                    elif loc0 == loc1:
                        change = "changing handshape" if shape0 != shape1 else "pausing between signs"
                        texts.append(f"{HANDSHAPES[shape_name]} {LOCATIONS[loc0][1]}, {change}")
                    else:
                        src = "the side" if loc0 is None else LOCATIONS[loc0][2]
                        dst = "the side" if loc1 is None else LOCATIONS[loc1][2]
                        verb = "lowering" if loc1 is None else "moving"
                        texts.append(f"{HANDSHAPES[shape_name]} {verb} from {src} to {dst}")
                hand_text[hand] = texts
            else:  # the sign itself
                sign = signs[phase[2]]
                if hand == "left" and not sign.two_handed:
                    x, y, s, a = _rest_track(hand, n)
                    shape = np.full(n, rest_shape)
                    hand_text[hand] = ["resting at the side"] * n
                else:
                    u = np.linspace(0.0, 1.0, n)
                    x, y, s, a = _sign_track(sign, hand, u)
                    shape_name = sign.right_handshape if hand == "right" else sign.left_handshape
                    shape = np.full(n, SHAPE_NAMES.index(shape_name))
                    loc = sign.location if hand == "right" else _MIRRORED_LOCATION.get(sign.location, sign.location)
                    hand_text[hand] = [_hand_phrase(shape_name, LOCATIONS[loc][1], sign.movement)] * n
            tracks[f"{hand}_x"][sl], tracks[f"{hand}_y"][sl] = x, y
            tracks[f"{hand}_size"][sl], tracks[f"{hand}_angle"][sl] = s, a
            tracks[f"{hand}_shape"][sl] = shape
        if kind == "sign":
            sign = signs[phase[2]]
            spans.append([start, start + n])
            if sign.face is not None:
                u = np.linspace(0.0, 1.0, n)
                k = np.arange(n)
                envelope = np.minimum(1.0, np.minimum(k + 1, n - k) / 2.0)
                if sign.face == "eyebrows raised":
                    tracks["brow_raise"][sl] = envelope
                elif sign.face == "eyebrows furrowed":
                    tracks["brow_furrow"][sl] = envelope
                elif sign.face == "mouth open":
                    tracks["mouth_open"][sl] = envelope
                elif sign.face == "head tilt":
                    tracks["head_angle"][sl] = 0.3 * envelope
                    tracks["head_dx"][sl] = 0.02 * envelope
                elif sign.face == "head shake":
                    tracks["head_dx"][sl] = 0.03 * envelope * np.sin(2 * np.pi * 2.0 * u)
                face_text = [FACE_CUES[sign.face]] * n
        for k in range(n):
            descriptions.append(
                f"right hand: {hand_text['right'][k]}; left hand: {hand_text['left'][k]}; face: {face_text[k]}"
            )
        start += n

    # A living signer never holds perfectly still: small smooth wobble of the hands and the head.
    for hand in ("right", "left"):
        tracks[f"{hand}_x"] += _smooth_noise(rng, total, 0.006)
        tracks[f"{hand}_y"] += _smooth_noise(rng, total, 0.006)
    tracks["head_dx"] += _smooth_noise(rng, total, 0.004)
    return ClipPlan(
        glosses=list(glosses),
        signer=signer,
        num_frames=total,
        tracks=tracks,
        descriptions=descriptions,
        sign_spans=spans,
        render_seed=int(rng.integers(0, 2**31 - 1)),
        noise=noise,
    )


# --- drawing --------------------------------------------------------------------------------------------------------

_OUTLINE = np.array([0.07, 0.06, 0.06], dtype=np.float32)
_FEATURE = np.array([0.10, 0.07, 0.07], dtype=np.float32)
_MOUTH = np.array([0.45, 0.10, 0.12], dtype=np.float32)


class _Canvas:
    """A (T, S, S, 3) float image stack plus the pixel grid; paints unions of capsules into it."""

    def __init__(self, frames: np.ndarray):
        self.frames = frames
        self.size = frames.shape[1]
        grid = np.arange(self.size, dtype=np.float32) + 0.5
        self.ys = grid[None, :, None]
        self.xs = grid[None, None, :]

    def paint(self, index, capsules, fill, outline_px: float = 0.0, outline=_OUTLINE, chunk: int = 0) -> None:
        """Paint the union of capsules (x0, y0, x1, y1, r), each an array over the frames in `index` (pixels).

        With `chunk`, frames are painted `chunk` at a time, each group inside its own bounding box: much less work
        for a hand that travels across the frame during the clip.
        """
        caps = [tuple(np.asarray(v, dtype=np.float32).reshape(-1) for v in c) for c in capsules]
        frames = np.arange(self.frames.shape[0])[index]
        if chunk and len(frames) > chunk:
            for start in range(0, len(frames), chunk):
                part = slice(start, start + chunk)
                self._paint(frames[part], [tuple(v[part] for v in c) for c in caps], fill, outline_px, outline)
        else:
            self._paint(index, caps, fill, outline_px, outline)

    def _paint(self, index, caps, fill, outline_px: float, outline) -> None:
        margin = outline_px + 1.5
        lo_x = min(float(np.min(np.minimum(c[0], c[2]) - c[4])) for c in caps) - margin
        hi_x = max(float(np.max(np.maximum(c[0], c[2]) + c[4])) for c in caps) + margin
        lo_y = min(float(np.min(np.minimum(c[1], c[3]) - c[4])) for c in caps) - margin
        hi_y = max(float(np.max(np.maximum(c[1], c[3]) + c[4])) for c in caps) + margin
        x0, x1 = max(0, int(math.floor(lo_x))), min(self.size, int(math.ceil(hi_x)))
        y0, y1 = max(0, int(math.floor(lo_y))), min(self.size, int(math.ceil(hi_y)))
        if x0 >= x1 or y0 >= y1:
            return
        xs, ys = self.xs[:, :, x0:x1], self.ys[:, y0:y1, :]
        sd = None
        for cx0, cy0, cx1, cy1, r in caps:
            cx0, cy0 = cx0[:, None, None], cy0[:, None, None]
            bx, by = cx1[:, None, None] - cx0, cy1[:, None, None] - cy0
            px, py = xs - cx0, ys - cy0
            h = np.clip((px * bx + py * by) / (bx * bx + by * by + 1e-6), 0.0, 1.0)
            d = np.sqrt((px - bx * h) ** 2 + (py - by * h) ** 2) - r[:, None, None]
            sd = d if sd is None else np.minimum(sd, d)
        window = self.frames[index, y0:y1, x0:x1]
        if outline_px > 0:
            alpha = np.clip(0.5 - (sd - outline_px), 0.0, 1.0)[..., None]
            window += alpha * (outline - window)
        alpha = np.clip(0.5 - sd, 0.0, 1.0)[..., None]
        window += alpha * (np.asarray(fill, dtype=np.float32) - window)
        self.frames[index, y0:y1, x0:x1] = window


def _background(rng: np.random.Generator, signer: SignerProfile, size: int) -> np.ndarray:
    """Background colour with a static low-frequency texture and fine grain, (S, S, 3)."""
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    xs, ys = grid[None, :], grid[:, None]
    texture = np.zeros((size, size), dtype=np.float32)
    for _ in range(3):
        fx, fy = rng.uniform(-3.0, 3.0, 2)
        texture += np.sin(2 * np.pi * (fx * xs + fy * ys) + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    texture *= signer.texture / 3.0
    grain = rng.normal(0.0, 0.015, (size, size)).astype(np.float32)
    base = np.asarray(signer.background, dtype=np.float32)
    return np.clip(base[None, None, :] + (texture + grain)[..., None], 0.0, 1.0)


def _rounded_box(size: int, centre, half, radius) -> np.ndarray:
    grid = np.arange(size, dtype=np.float32) + 0.5
    qx = np.abs(grid[None, :] - centre[0]) - half[0] + radius
    qy = np.abs(grid[:, None] - centre[1]) - half[1] + radius
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - radius


def _elbows(shoulder_x, shoulder_y, hand_x, hand_y, length: float, outward: float):
    """Two-bone arm: elbow position for a hand position (pixels); the elbow bends down and away from the body."""
    dx, dy = hand_x - shoulder_x, hand_y - shoulder_y
    dist = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-6)
    reach = np.minimum(dist, 2 * length)
    bend = np.sqrt(np.maximum(length * length - (reach / 2) ** 2, 0.0))
    nx, ny = -dy / dist, dx / dist  # one of the two perpendiculars
    flip = (ny + 0.5 * outward * nx) < 0  # prefer the elbow below and outside
    nx, ny = np.where(flip, -nx, nx), np.where(flip, -ny, ny)
    mx, my = shoulder_x + dx * reach / dist / 2, shoulder_y + dy * reach / dist / 2
    return mx + nx * bend, my + ny * bend


def render_clip(plan: ClipPlan, image_size: int) -> np.ndarray:
    """Draw a planned clip: uint8 frames of shape (T, image_size, image_size, 3), deterministic for the plan."""
    rng = np.random.default_rng(plan.render_seed)
    signer, tracks, size, n = plan.signer, plan.tracks, image_size, plan.num_frames
    unit = size * signer.scale  # pixels per frame fraction

    def px(x, y):
        """Canonical coordinates -> pixels, around the frame centre, then the signer's offset."""
        return (
            (size / 2 + (np.asarray(x) - 0.5) * unit + signer.offset[0] * size),
            (size / 2 + (np.asarray(y) - 0.5) * unit + signer.offset[1] * size),
        )

    skin = np.asarray(signer.skin, dtype=np.float32)
    clothing = np.asarray(signer.clothing, dtype=np.float32)
    sleeve = np.clip(clothing * 0.8 + 0.1, 0, 1)
    outline_px = max(0.6, 0.012 * unit)

    # Static layer: background, neck and torso (drawn once, then copied to every frame).
    still = _Canvas(_background(rng, signer, size)[None].copy())
    one = np.ones(1)
    nx, ny0 = px(0.5, 0.30)
    _, ny1 = px(0.5, 0.46)
    still.paint(slice(0, 1), [(nx * one, ny0 * one, nx * one, ny1 * one, 0.045 * unit * one)], skin, outline_px)
    centre, half = px(0.5, 0.76), (0.21 * unit, 0.31 * unit)
    sd = _rounded_box(size, centre, half, 0.09 * unit)
    layer = still.frames[0]
    layer += np.clip(0.5 - (sd - outline_px), 0, 1)[..., None] * (_OUTLINE - layer)
    layer += np.clip(0.5 - sd, 0, 1)[..., None] * (clothing - layer)
    canvas = _Canvas(np.repeat(still.frames, n, axis=0))
    all_frames = slice(None)

    # Head: hair, face, eyes, eyebrows, mouth; moves with tilt/shake cues.
    (hx0, hy0), head_r = _HEAD
    hx, hy = px(hx0 + tracks["head_dx"], np.full(n, hy0))
    head_r_px = np.full(n, head_r * unit)
    canvas.paint(
        all_frames, [(hx, hy - 0.025 * unit, hx, hy - 0.025 * unit, head_r_px * 1.04)], signer.hair, outline_px
    )
    canvas.paint(all_frames, [(hx, hy + 0.01 * unit, hx, hy + 0.01 * unit, head_r_px * 0.96)], skin, outline_px)
    cos_a, sin_a = np.cos(tracks["head_angle"]), np.sin(tracks["head_angle"])

    def feature(dx, dy):
        dx, dy = dx * unit, dy * unit
        return hx + dx * cos_a - dy * sin_a, hy + dx * sin_a + dy * cos_a

    features = []  # eyes and eyebrows, one paint call
    for side in (-1.0, 1.0):
        ex, ey = feature(side * 0.04, 0.0)
        features.append((ex, ey, ex, ey, np.full(n, 0.014 * unit)))
        brow_y = -0.035 - 0.025 * tracks["brow_raise"]
        inner_y = brow_y + 0.018 * tracks["brow_furrow"]
        bx0, by0 = feature(side * 0.065, brow_y)
        bx1, by1 = feature(side * 0.018, inner_y)
        features.append((bx0, by0, bx1, by1, np.full(n, 0.009 * unit)))
    canvas.paint(all_frames, features, _FEATURE)
    mouth_open = tracks["mouth_open"]
    mx0, my0 = feature(-0.03 * (1 - 0.6 * mouth_open), 0.055)
    mx1, my1 = feature(0.03 * (1 - 0.6 * mouth_open), 0.055)
    canvas.paint(all_frames, [(mx0, my0, mx1, my1, (0.008 + 0.018 * mouth_open) * unit)], _MOUTH)

    # Arms and hands; the dominant (right) hand is drawn last so it passes in front of the left one.
    for hand, outward in (("left", 1.0), ("right", -1.0)):
        sx, sy = px(*_SHOULDER[hand])
        sx, sy = np.full(n, sx), np.full(n, sy)
        wx, wy = px(tracks[f"{hand}_x"], tracks[f"{hand}_y"])
        ex, ey = _elbows(sx, sy, wx, wy, _ARM_SEGMENT * unit, outward)
        arm_r = np.full(n, 0.04 * unit)
        canvas.paint(
            all_frames, [(sx, sy, ex, ey, arm_r), (ex, ey, wx, wy, arm_r * 0.85)], sleeve, outline_px, chunk=8
        )
        mirror = 1.0 if hand == "right" else -1.0
        shapes = tracks[f"{hand}_shape"]
        for shape_index in np.unique(shapes):
            idx = np.nonzero(shapes == shape_index)[0]
            palm_r, fingers = _SHAPE_GEOMETRY[SHAPE_NAMES[shape_index]]
            scale = tracks[f"{hand}_size"][idx] * unit
            angle = tracks[f"{hand}_angle"][idx]
            cx, cy = wx[idx], wy[idx]
            capsules = [(cx, cy, cx, cy, palm_r * scale)]
            for finger_angle, length, radius in fingers:
                a = angle + mirror * math.radians(finger_angle)
                ux, uy = np.sin(a), -np.cos(a)
                bx, by = cx + ux * palm_r * 0.5 * scale, cy + uy * palm_r * 0.5 * scale
                capsules.append((bx, by, bx + ux * length * scale, by + uy * length * scale, radius * scale))
            canvas.paint(idx, capsules, skin, outline_px, chunk=8)

    frames = canvas.frames
    if (
        plan.noise > 0
    ):  # sensor noise, new in every frame: uniform with standard deviation `noise` (cheaper than normal)
        grain = rng.random(frames.shape, dtype=np.float32)
        grain -= 0.5
        grain *= np.float32(plan.noise * math.sqrt(12.0))
        frames += grain
    frames *= 255.0
    frames += 0.5
    np.clip(frames, 0.0, 255.0, out=frames)
    return frames.astype(np.uint8)
