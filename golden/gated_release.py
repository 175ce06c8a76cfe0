"""Fit a threshold classifier and release it only when it scores well enough (stdlib only)."""
import random

from stepc import pipeline, step


@step(outputs=["samples"])
def collect(n_samples: int = 200, noise: float = 0.6, seed: int = 3):
    """Points on a line, labelled by which side of 0 they lie on, blurred by noise."""
    rng = random.Random(seed)
    samples = []
    for _ in range(n_samples):
        x = rng.uniform(-1, 1)
        samples.append((x + rng.gauss(0, noise), int(x > 0)))
    return samples


@step(inputs=["samples"], outputs=["model"])
def fit(samples):
    """The cut halfway between the two classes' means."""
    ones = [x for x, label in samples if label]
    zeros = [x for x, label in samples if not label]
    return {"cut": (sum(ones) / len(ones) + sum(zeros) / len(zeros)) / 2}


@step(inputs=["model", "samples"], outputs=["accuracy", "verdict"])
def score(model, samples) -> tuple[float, str]:
    hits = sum((x > model["cut"]) == bool(label) for x, label in samples)
    accuracy = round(hits / len(samples), 4)
    return accuracy, "ship" if accuracy >= 0.7 else "retrain"


@step(inputs=["model", "accuracy"], outputs=["release"], when="accuracy >= min_accuracy")
def publish(model, accuracy, min_accuracy: float = 0.75):
    """Decided at run time: the score of this run against the bar of this run."""
    return {"cut": model["cut"], "accuracy": accuracy}


@step(inputs=["verdict"], outputs=["ticket"], when="verdict == 'retrain'")
def flag(verdict):
    return f"model needs work: {verdict}"


@step(inputs=["release", "ticket"], outputs=["summary"])
def summarize(release=None, ticket=None):
    return {"released": release is not None, "ticket": ticket}


pipeline("gated-release", steps=[collect, fit, score, publish, flag, summarize])
