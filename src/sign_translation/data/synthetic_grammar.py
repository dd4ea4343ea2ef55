"""The built-in vocabulary and grammar of the synthetic corpus: English weather forecasts ("weather-en").

Signs follow a topic-first sign order, TIME REGION WEATHER [INTENSITY] [NEG] (plus a question, a temperature and a
contrast construction), while the English sentence reorders them and adds what signs leave out: tense from the time
sign ("rained" / "is raining" / "will rain"), subject-verb agreement ("there is a light wind" / "there are strong
winds"), collocations that depend on the weather ("heavy rain" but "strong winds", "partly sunny" but "slightly
cold"), function words and question inversion:

    TOMORROW NORTH RAIN STRONG NOT  ->  tomorrow it will not rain heavily in the north
    YESTERDAY COAST WIND QUESTION   ->  was there wind on the coast yesterday?
    TODAY EAST TEMPERATURE FALL LITTLE  ->  today temperatures are falling slightly in the east
    TOMORROW NORTH SNOW SOUTH SUN   ->  tomorrow it will snow in the north but it will be sunny in the south

The realisation is a deterministic function of the gloss sequence, so a perfect model can reach BLEU 100, yet the
constructions combine into ~100k sentences: a test split is mostly sentences never seen in training.
"""

from __future__ import annotations

import numpy as np

from .synthetic_render import SignParameters

GRAMMAR_NAME = "weather-en"

# Hand-assigned so that no two built-in signs share a (location, movement) pair: location and movement stay
# readable at 32 px, where handshapes are a few pixels.
_S = SignParameters
BUILTIN_SIGNS: dict[str, SignParameters] = {
    # time
    "YESTERDAY": _S("point", "right shoulder", "arc"),
    "TODAY": _S("flat", "waist", "down", left_handshape="flat"),
    "NOW": _S("point", "chest", "tap", left_handshape="point"),
    "TONIGHT": _S("C", "temple", "down"),
    "TOMORROW": _S("flat", "chin", "toward camera"),
    "WEEKEND": _S("V", "waist", "side to side", left_handshape="V"),
    "MONDAY": _S("fist", "neutral space right", "circle"),
    # regions
    "NORTH": _S("point", "forehead", "up"),
    "SOUTH": _S("point", "waist", "tap"),
    "EAST": _S("point", "neutral space left", "tap"),
    "WEST": _S("point", "neutral space right", "tap"),
    "COAST": _S("flat", "chest", "side to side", left_handshape="flat"),
    "MOUNTAIN": _S("C", "chest", "up", left_handshape="C"),
    "CITY": _S("flat", "forehead", "tap", left_handshape="flat"),
    "EVERYWHERE": _S("open", "chest", "circle"),
    # weather
    "RAIN": _S("open", "neutral space right", "down", left_handshape="open"),
    "SNOW": _S("open", "forehead", "twist", left_handshape="open"),
    "SUN": _S("C", "temple", "circle"),
    "WIND": _S("flat", "neutral space right", "side to side", left_handshape="flat"),
    "CLOUD": _S("C", "forehead", "side to side", left_handshape="C"),
    "STORM": _S("open", "chest", "twist", left_handshape="open", face="eyebrows furrowed"),
    "FOG": _S("flat", "chin", "circle", left_handshape="flat"),
    "WARM": _S("open", "chin", "up"),
    "COLD": _S("fist", "right shoulder", "twist", left_handshape="fist"),
    # temperature
    "TEMPERATURE": _S("point", "chest", "down"),
    "RISE": _S("flat", "neutral space left", "up"),
    "FALL": _S("flat", "neutral space left", "down"),
    # intensity, negation, question
    "STRONG": _S("fist", "right shoulder", "down", left_handshape="fist", face="mouth open"),
    "LITTLE": _S("C", "chin", "tap", face="head tilt"),
    "NOT": _S("point", "chin", "side to side", face="head shake"),
    "QUESTION": _S("point", "neutral space right", "arc", face="eyebrows raised"),
}
del _S

TIMES = {  # gloss -> (phrase, tense)
    "YESTERDAY": ("yesterday", "past"),
    "TODAY": ("today", "present"),
    "NOW": ("now", "present"),
    "TONIGHT": ("tonight", "future"),
    "TOMORROW": ("tomorrow", "future"),
    "WEEKEND": ("at the weekend", "future"),
    "MONDAY": ("on monday", "future"),
}
REGIONS = {
    "NORTH": "in the north",
    "SOUTH": "in the south",
    "EAST": "in the east",
    "WEST": "in the west",
    "COAST": "on the coast",
    "MOUNTAIN": "in the mountains",
    "CITY": "in the city",
    "EVERYWHERE": "everywhere",
}
# Weather is realised as a verb, a noun or an adjective, each with its own intensity collocations.
VERB_WEATHER = {  # gloss -> (base, present participle, past, {intensity: adverb})
    "RAIN": ("rain", "raining", "rained", {"STRONG": "heavily", "LITTLE": "lightly"}),
    "SNOW": ("snow", "snowing", "snowed", {"STRONG": "heavily", "LITTLE": "lightly"}),
}
NOUN_WEATHER = {  # gloss -> {intensity: (noun phrase, plural, has article)}
    "WIND": {
        None: ("wind", False, False),
        "STRONG": ("strong winds", True, False),
        "LITTLE": ("a light wind", False, True),
    },
    "STORM": {
        None: ("storms", True, False),
        "STRONG": ("severe storms", True, False),
        "LITTLE": ("a small storm", False, True),
    },
}
ADJECTIVE_WEATHER = {  # gloss -> (adjective, {intensity: degree word})
    "SUN": ("sunny", {"STRONG": "very", "LITTLE": "partly"}),
    "CLOUD": ("cloudy", {"STRONG": "very", "LITTLE": "partly"}),
    "FOG": ("foggy", {"STRONG": "very", "LITTLE": "slightly"}),
    "WARM": ("warm", {"STRONG": "very", "LITTLE": "slightly"}),
    "COLD": ("cold", {"STRONG": "very", "LITTLE": "slightly"}),
}
WEATHER = [*VERB_WEATHER, *NOUN_WEATHER, *ADJECTIVE_WEATHER]
INTENSITIES = ("STRONG", "LITTLE")
TEMPERATURE_VERBS = {  # gloss -> (base, present participle, past)
    "RISE": ("rise", "rising", "rose"),
    "FALL": ("fall", "falling", "fell"),
}
TEMPERATURE_ADVERBS = {"STRONG": "sharply", "LITTLE": "slightly"}
# How often each construction is drawn.
CONSTRUCTIONS = {"statement": 0.45, "question": 0.2, "temperature": 0.15, "contrast": 0.2}


def _weather_clause(weather: str, intensity: str | None, negated: bool, tense: str) -> str:
    """A declarative clause without time or place: "it will not rain heavily", "there was a light wind"."""
    if weather in VERB_WEATHER:
        base, participle, past, adverbs = VERB_WEATHER[weather]
        adverb = f" {adverbs[intensity]}" if intensity else ""
        verb = {
            ("past", False): past,
            ("past", True): f"did not {base}",
            ("present", False): f"is {participle}",
            ("present", True): f"is not {participle}",
            ("future", False): f"will {base}",
            ("future", True): f"will not {base}",
        }[tense, negated]
        return f"it {verb}{adverb}"
    if weather in NOUN_WEATHER:
        phrase, plural, article = NOUN_WEATHER[weather][intensity]
        if negated:
            phrase = "no " + (phrase.split(" ", 1)[1] if article else phrase)
        be = {"past": "were" if plural else "was", "present": "are" if plural else "is", "future": "will be"}[tense]
        return f"there {be} {phrase}"
    adjective, degrees = ADJECTIVE_WEATHER[weather]
    degree = f"{degrees[intensity]} " if intensity else ""
    be = {"past": "was", "present": "is", "future": "will be"}[tense]
    if negated:
        be = {"past": "was not", "present": "is not", "future": "will not be"}[tense]
    return f"it {be} {degree}{adjective}"


def _weather_question(weather: str, intensity: str | None, tense: str, place: str, time: str) -> str:
    """A yes/no question: auxiliary first, time phrase moved to the end."""
    tail = "".join(f" {p}" for p in (place, time) if p)
    if weather in VERB_WEATHER:
        base, participle, _, adverbs = VERB_WEATHER[weather]
        adverb = f" {adverbs[intensity]}" if intensity else ""
        head = {"past": f"did it {base}", "present": f"is it {participle}", "future": f"will it {base}"}[tense]
        return f"{head}{adverb}{tail}?"
    if weather in NOUN_WEATHER:
        phrase, plural, _ = NOUN_WEATHER[weather][intensity]
        head = {
            "past": "were there" if plural else "was there",
            "present": "are there" if plural else "is there",
            "future": "will there be",
        }[tense]
        return f"{head} {phrase}{tail}?"
    adjective, degrees = ADJECTIVE_WEATHER[weather]
    degree = f"{degrees[intensity]} " if intensity else ""
    head = {"past": "was it", "present": "is it", "future": "will it be"}[tense]
    return f"{head} {degree}{adjective}{tail}?"


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def sample_sentence(rng: np.random.Generator) -> tuple[list[str], str]:
    """Draw one (gloss sequence in sign order, English sentence) pair of the built-in grammar (2-6 signs).

    Example:
        >>> glosses, text = sample_sentence(np.random.default_rng(0))
        >>> 2 <= len(glosses) <= 6 and isinstance(text, str)
        True
    """
    names = list(CONSTRUCTIONS)
    weights = np.array([CONSTRUCTIONS[n] for n in names])
    construction = names[rng.choice(len(names), p=weights / weights.sum())]
    times, regions = list(TIMES), list(REGIONS)
    while True:
        time = times[rng.integers(len(times))] if rng.random() < 0.85 else None
        region = regions[rng.integers(len(regions))] if rng.random() < 0.85 else None
        intensity = INTENSITIES[rng.integers(2)] if rng.random() < 0.5 else None
        negated = rng.random() < 0.3
        weather = WEATHER[rng.integers(len(WEATHER))]
        time_phrase, tense = TIMES[time] if time else (None, "present")
        place = REGIONS[region] if region else None
        if construction == "statement":
            glosses = [g for g in (time, region, weather, intensity, "NOT" if negated else None) if g]
            text = _join(time_phrase, _weather_clause(weather, intensity, negated, tense), place)
        elif construction == "question":
            glosses = [g for g in (time, region, weather, intensity, "QUESTION") if g]
            text = _weather_question(weather, intensity, tense, place, time_phrase)
        elif construction == "temperature":
            direction = list(TEMPERATURE_VERBS)[rng.integers(2)]
            base, participle, past = TEMPERATURE_VERBS[direction]
            glosses = [g for g in (time, region, "TEMPERATURE", direction, intensity, "NOT" if negated else None) if g]
            verb = {
                ("past", False): past,
                ("past", True): f"did not {base}",
                ("present", False): f"are {participle}",
                ("present", True): f"are not {participle}",
                ("future", False): f"will {base}",
                ("future", True): f"will not {base}",
            }[tense, negated]
            text = _join(time_phrase, "temperatures", verb, TEMPERATURE_ADVERBS.get(intensity), place)
        else:  # contrast: two regions with different weather, "... but ..."
            if region is None or region == "EVERYWHERE":
                continue
            other_regions = [r for r in regions if r not in (region, "EVERYWHERE")]
            region2 = other_regions[rng.integers(len(other_regions))]
            other_weather = [w for w in WEATHER if w != weather]
            weather2 = other_weather[rng.integers(len(other_weather))]
            glosses = [g for g in (time, region, weather, intensity, region2, weather2) if g]
            text = _join(
                time_phrase,
                _weather_clause(weather, intensity, False, tense),
                place,
                "but",
                _weather_clause(weather2, None, False, tense),
                REGIONS[region2],
            )
        if 2 <= len(glosses) <= 6:
            return glosses, text
