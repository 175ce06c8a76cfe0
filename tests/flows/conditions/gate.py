"""A function-dialect flow whose conditions read upstream outputs.

``evaluate`` scores a model; ``deploy`` runs when the score beats the ``threshold`` parameter
(an output compared with a parameter: decided by ``stepc exec`` on every engine), and
``announce`` after it is skipped with it. ``review`` runs on a "poor" verdict (an output
compared with a literal: the engines can skip it early). ``report`` merges both branches.

In pipeline ``items``, inside a foreach, ``grow`` runs only for the items whose ``size`` is
over 2, and ``settle`` (a chained map) merges each item's result.
"""

from stepc import pipeline, step


@step(outputs=["model", "score", "verdict"])
def evaluate(quality: float = 0.8) -> tuple[dict, float, str]:
    return {"weight": quality}, quality, "good" if quality >= 0.5 else "poor"


@step(inputs=["model", "score"], outputs=["deployed"], when="score > threshold")
def deploy(model, score, threshold: float = 0.5):
    return {"model": model, "score": score}


@step(inputs=["deployed"], outputs=["announcement"])
def announce(deployed):
    return f"deployed with score {deployed['score']}"


@step(inputs=["verdict"], outputs=["review"], when="verdict == 'poor'")
def review(verdict):
    return f"needs a review: {verdict}"


@step(outputs=["words"])
def words():
    return ["a", "abc", "ab", "abcd"]


@step(inputs=["words"], outputs=["size"], foreach="words")
def measure(words):
    return len(words)


@step(inputs=["size"], outputs=["grown"], foreach="size", when="size > 2")
def grow(size):
    return size * 10


@step(inputs=["size", "grown"], outputs=["settled"], foreach="size")
def settle(size, grown=None):
    return size if grown is None else grown


@step(inputs=["announcement", "review"], outputs=["summary"])
def report(announcement=None, review=None):
    return {"announcement": announcement, "review": review}


@step(inputs=["settled"], outputs=["total"])
def collect(settled):
    return settled


# An image holding stepc and the project (`stepc image`), as the container targets need.
pipeline("gate", steps=[evaluate, deploy, announce, review, report], image="ghcr.io/acme/gate:1")
pipeline("items", steps=[words, measure, grow, settle, collect], image="ghcr.io/acme/gate:1")
