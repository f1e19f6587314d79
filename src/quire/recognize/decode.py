"""CTC decoding of one line's frame log-probabilities (T×classes, blank = 0).

Greedy decoding takes the best class of every frame; beam decoding is a CTC prefix
beam search. Either way the result is aligned to the frames (Viterbi; for greedy
decoding the best frame path is that alignment already, so no search is run), and
the confidences come from that alignment: a symbol's is the mean probability of its
frames, the line's the geometric mean of the probabilities of all frames along
the alignment (blanks included), so an empty line has a confidence too.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

_NEG = -np.inf


def greedy(logp: np.ndarray) -> list[int]:
    """Best class per frame, repeats merged, blanks dropped."""
    return greedy_aligned(logp)[0]


def greedy_aligned(logp: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Greedy labels and their alignment (as ``align`` gives it). The best class of
    every frame is the most probable path of all, so it is also the most probable
    path of the labels it spells."""
    best = logp.argmax(1)
    starts = best != 0
    starts[1:] &= best[1:] != best[:-1]
    path = np.where(best != 0, np.cumsum(starts) - 1, -1)
    return best[starts].tolist(), path


def beam(logp: np.ndarray, width: int = 10) -> list[int]:
    """CTC prefix beam search, keeping ``width`` prefixes and trying ``width`` classes per
    frame."""
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG)}  # (blank, non-blank)
    for frame in logp:
        candidates = [int(c) for c in np.argsort(frame)[-width:] if c != 0]
        following: defaultdict[tuple[int, ...], list[float]] = defaultdict(lambda: [_NEG, _NEG])
        for prefix, (p_blank, p_symbol) in beams.items():
            total = np.logaddexp(p_blank, p_symbol)
            stay = following[prefix]
            stay[0] = np.logaddexp(stay[0], total + frame[0])
            for c in candidates:
                extended = following[(*prefix, c)]
                if prefix and prefix[-1] == c:
                    extended[1] = np.logaddexp(extended[1], p_blank + frame[c])
                    stay[1] = np.logaddexp(stay[1], p_symbol + frame[c])
                else:
                    extended[1] = np.logaddexp(extended[1], total + frame[c])
        ranked = sorted(following.items(), key=lambda kv: -np.logaddexp(*kv[1]))
        beams = {prefix: (p[0], p[1]) for prefix, p in ranked[:width]}
    return list(max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))[0])


def align(logp: np.ndarray, labels: list[int]) -> np.ndarray:
    """The most probable frame-by-frame state path of ``labels`` (Viterbi); returns, per
    frame, the index of the label it emits or -1 for a blank."""
    states = np.zeros(2 * len(labels) + 1, int)
    states[1::2] = labels
    count = len(states)
    skip = np.zeros(count, bool)  # may come from two states back (between different labels)
    skip[3::2] = states[3::2] != states[1:-2:2]
    score = np.full(count, _NEG)
    score[0] = logp[0, 0]
    if count > 1:
        score[1] = logp[0, states[1]]
    back = np.zeros((len(logp), count), np.int8)
    for t in range(1, len(logp)):
        options = np.stack(
            [
                score,
                np.r_[_NEG, score][:count],
                np.where(skip, np.r_[_NEG, _NEG, score][:count], _NEG),
            ]
        )
        back[t] = options.argmax(0)
        score = options.max(0) + logp[t, states]
    state = count - 1 if count == 1 or score[-1] >= score[-2] else count - 2
    path = np.empty(len(logp), int)
    for t in range(len(logp) - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    return np.where(path % 2 == 1, path // 2, -1)


def confidences(
    logp: np.ndarray, labels: list[int], path: np.ndarray | None = None
) -> tuple[float, list[float]]:
    """The line's confidence and one per label, from the Viterbi alignment ``path``."""
    path = align(logp, labels) if path is None else path
    states = np.where(path >= 0, np.asarray([*labels, 0])[path], 0)
    frame_logp = logp[np.arange(len(logp)), states]
    emitting = path >= 0
    count = len(labels)
    sums = np.bincount(path[emitting], np.exp(frame_logp[emitting]), minlength=count)
    per_label = sums / np.bincount(path[emitting], minlength=count)
    return float(np.exp(frame_logp.mean())), per_label.tolist()


def spans(path: np.ndarray, count: int) -> list[tuple[float, float]]:
    """Where each of ``count`` labels lies along the line, as (start, end) shares of its
    width, from the frames the alignment ``path`` gives it."""
    frames = np.flatnonzero(path >= 0)
    labels = path[frames]  # non-decreasing along the line
    first = frames[np.searchsorted(labels, np.arange(count), side="left")]
    last = frames[np.searchsorted(labels, np.arange(count), side="right") - 1]
    return list(zip((first / len(path)).tolist(), ((last + 1) / len(path)).tolist(), strict=True))
