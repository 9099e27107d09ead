"""Text for the language-model replication: a seeded story generator with labelled latent variables, local files,
Hugging Face datasets, and a BPE tokenizer trained on the text.

The default corpus needs no download. `generate_stories(CorpusConfig(seed=0))` writes short English stories from a
small grammar (characters with titles such as "Mr." and "Dr.", dialogue in quotes, places, objects, numbers,
questions, lists, cause and effect) and records, for every character of the text, which of the generator's latent
variables hold there ("period after a title", "inside a quotation", "name", "number", …). `Tokenizer.encode_corpus`
carries those character spans to token positions, so a feature of a model trained on the text can be checked
against the variables that made it (notebook 05).

Dimension names: `tok` token positions in a stream, `label` latent variables, `batch`, `pos`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from sae_kit._util import check_positive_int

__all__ = ["CorpusConfig", "Corpus", "LATENTS", "generate_stories", "load_text_file", "load_hf_dataset",
           "Tokenizer", "TokenizedCorpus", "train_tokenizer"]

LATENTS = (
    "title", "title_period", "name", "surname", "in_quote", "quote_open", "quote_close", "speech_verb",
    "number", "number_word", "question", "question_mark", "place", "object", "list_item", "list_comma",
    "cause", "effect", "sentence_start", "sentence_period", "pronoun_he", "pronoun_she", "colour", "animal",
    "food", "day", "time_word", "emotion", "plural", "dialogue_turn",
)
"""The generator's latent variables, in the order of the label axis."""

TITLES = {"Mr": "he", "Dr": None, "Mrs": "she", "Ms": "she"}
FIRST = {"he": ["Tom", "Sam", "Ben", "Jack", "Leo", "Max", "Paul", "Ravi", "Omar", "Hugo", "Felix", "Ned"],
         "she": ["Anna", "Lily", "Mia", "Rose", "Zoe", "Ella", "Nora", "Priya", "Lucy", "Ada", "June", "Ivy"]}
SURNAMES = ["Smith", "Brown", "Green", "White", "Patel", "Jones", "Baker", "Clark", "Hill", "Wood", "Gray", "Khan",
            "Lee", "Moore", "Reed", "Stone", "Fox", "Hart"]
PLACES = ["the park", "the library", "the market", "the beach", "the school", "the station", "the garden",
          "the bakery", "the river", "the hospital", "the museum", "the forest", "the farm", "the harbour"]
OBJECTS = ["a book", "a key", "a red ball", "a map", "a letter", "an umbrella", "a lamp", "a box", "a hat",
           "a cup", "a kite", "a clock", "a coin", "a bell", "a basket", "a ticket"]
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange"]
ANIMALS = ["cat", "dog", "bird", "horse", "rabbit", "duck", "fox", "mouse", "owl", "goat"]
FOODS = ["apples", "bread", "cake", "soup", "cheese", "eggs", "pears", "rice", "tea", "milk", "plums", "jam"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["morning", "evening", "night", "afternoon", "noon"]
EMOTIONS = ["happy", "sad", "angry", "tired", "scared", "proud", "calm", "excited"]
NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
SPEECH = ["said", "asked", "replied", "shouted", "whispered", "answered"]
MOVES = ["walked to", "ran to", "went to", "drove to", "came back from", "looked around"]
CAUSES = [("it was raining", "stayed inside"), ("the shop was closed", "went home"),
          ("the dog was hungry", "bought food"), ("it was late", "went to bed"),
          ("the road was long", "took the bus"), ("the door was locked", "found a key"),
          ("the music was loud", "covered their ears"), ("the cake was burnt", "made another one")]


@dataclass
class CorpusConfig:
    """How many stories to generate, and from which seed."""

    n_stories: int = 2000
    """Stories to write (≈ 120 words each). ≥ 1."""
    seed: int = 0
    """The same seed writes the same text and labels."""

    def __post_init__(self) -> None:
        check_positive_int("n_stories", self.n_stories)


@dataclass
class Corpus:
    """Text and, where the text was generated, character spans of latent variables."""

    text: str
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    """(start, end, label index into `labels`): the label holds on characters start…end−1."""
    labels: tuple[str, ...] = ()
    source: str = "generated"

    def char_labels(self, label: str) -> list[tuple[int, int]]:
        """The character spans (start, end) where `label` holds."""
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}; known: {list(self.labels)}")
        k = self.labels.index(label)
        return [(s, e) for s, e, j in self.spans if j == k]


class _Writer:
    """Appends text and records which latent variables hold on it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[tuple[int, int, int]] = []
        self.active: list[str] = []  # labels that hold on everything written while they are open (quotes, questions)

    def add(self, text: str, *labels: str) -> None:
        start = self.n
        self.parts.append(text)
        self.n += len(text)
        for lab in (*labels, *self.active):
            self.spans.append((start, self.n, LATENTS.index(lab)))

    def text(self) -> str:
        return "".join(self.parts)


class _Story:
    """One story: a small cast, a place and an object, and sentences drawn from templates."""

    def __init__(self, rng: random.Random, w: _Writer) -> None:
        self.r, self.w = rng, w
        self.cast = []
        for _ in range(rng.randint(2, 3)):
            title = rng.choice(list(TITLES))
            gender = TITLES[title] or rng.choice(["he", "she"])
            self.cast.append((title, rng.choice(FIRST[gender]), rng.choice(SURNAMES), gender))

    def person(self, c, style: str | None = None) -> None:
        title, first, last, _ = c
        style = style or self.r.choice(["title", "title", "first", "full"])
        if style == "title":
            self.w.add(title, "title")
            self.w.add(".", "title_period")
            self.w.add(" ")
            self.w.add(last, "name", "surname")
        elif style == "first":
            self.w.add(first, "name")
        else:
            self.w.add(first, "name")
            self.w.add(" ")
            self.w.add(last, "name", "surname")

    def start(self, c=None) -> None:
        """A sentence that begins with a person (their first word is the sentence start)."""
        c = c or self.r.choice(self.cast)
        n0 = self.w.n
        self.person(c)
        self.w.spans.append((n0, n0 + 1, LATENTS.index("sentence_start")))

    def end(self) -> None:
        self.w.add(".", "sentence_period")
        self.w.add(" ")

    def pronoun(self, c) -> None:
        g = c[3]
        self.w.add(" " + g, "pronoun_he" if g == "he" else "pronoun_she")

    def number(self) -> None:
        if self.r.random() < 0.5:
            self.w.add(" " + str(self.r.randint(2, 99)), "number")
        else:
            self.w.add(" " + self.r.choice(NUMBER_WORDS), "number_word")

    def sentence(self) -> None:
        """One sentence of a kind drawn at random (dialogue twice as likely), about a member of the cast."""
        kind = self.r.choice(["move", "object", "dialogue", "dialogue", "question", "list", "cause", "count", "time",
                              "feel", "animal"])
        c = self.r.choice(self.cast)
        if kind in ("dialogue", "question"):
            self.dialogue(c, question=kind == "question")
        else:
            getattr(self, f"{kind}_sentence")(c)

    def move_sentence(self, c) -> None:
        self.start(c)
        self.w.add(" " + self.r.choice(MOVES) + " ")
        self.w.add(self.r.choice(PLACES), "place")
        self.end()

    def object_sentence(self, c) -> None:
        r, w = self.r, self.w
        self.start(c)
        w.add(" found ")
        w.add(r.choice(OBJECTS), "object")
        w.add(" near ")
        w.add(r.choice(PLACES), "place")
        self.end()

    def dialogue(self, c, question: bool) -> None:
        other = self.r.choice([p for p in self.cast if p is not c])
        self.start(c)
        self.w.add(" " + self.r.choice(SPEECH), "speech_verb")
        self.w.add(", ")
        self.quote(other, question=question)
        self.w.add(" ")

    def list_sentence(self, c) -> None:
        r, w = self.r, self.w
        self.start(c)
        w.add(" bought")
        items = r.sample(FOODS, r.randint(2, 4))
        for i, item in enumerate(items):
            if i == len(items) - 1:
                w.add(" and")
            elif i > 0:
                w.add(",", "list_comma")
            w.add(" " + item, "list_item", "food")
        self.end()

    def cause_sentence(self, c) -> None:
        r, w = self.r, self.w
        cause, effect = r.choice(CAUSES)
        if r.random() < 0.5:
            self.start(c)
            w.add(" " + effect.split()[0], "effect")
            w.add(" " + " ".join(effect.split()[1:]), "effect")
            w.add(" because ")
            w.add(cause, "cause")
        else:
            w.add("Because", "sentence_start")
            w.add(" " + cause, "cause")
            w.add(",")
            self.pronoun(c)
            w.add(" " + effect, "effect")
        self.end()

    def count_sentence(self, c) -> None:
        self.start(c)
        self.w.add(" had")
        self.number()
        self.w.add(" ")
        animal = self.r.choice(ANIMALS)
        self.w.add(animal + ("es" if animal in ("fox",) else "s") if animal != "mouse" else "mice", "animal", "plural")
        self.end()

    def time_sentence(self, c) -> None:
        r, w = self.r, self.w
        w.add("On", "sentence_start")
        w.add(" ")
        w.add(r.choice(DAYS), "day")
        w.add(" ")
        w.add(r.choice(TIMES), "time_word")
        w.add(", ")
        self.person(c)
        w.add(" " + r.choice(MOVES) + " ")
        w.add(r.choice(PLACES), "place")
        self.end()

    def feel_sentence(self, c) -> None:
        r, w = self.r, self.w
        self.start(c)
        w.add(" was very")
        w.add(" " + r.choice(EMOTIONS), "emotion")
        w.add(" and")
        self.pronoun(c)
        w.add(" smiled" if r.random() < 0.5 else " sighed")
        self.end()

    def animal_sentence(self, c) -> None:
        r, w = self.r, self.w
        self.start(c)
        w.add(" saw a")
        w.add(" " + r.choice(COLOURS), "colour")
        w.add(" " + r.choice(ANIMALS), "animal")
        w.add(" in ")
        w.add(r.choice(PLACES), "place")
        self.end()

    def quote(self, addressee, question: bool) -> None:
        """Dialogue in double quotes; everything between the marks is inside the quotation."""
        r, w = self.r, self.w
        w.add('"', "quote_open", "dialogue_turn")
        w.active.append("in_quote")
        if question:
            w.active.append("question")
            lead = r.choice(["Where is", "Have you seen", "Did you bring", "Why is"])
            w.add(lead + " ")
            w.add(r.choice(OBJECTS), "object")
            if r.random() < 0.5:
                w.add(", ")
                self.person(addressee)
            w.add("?", "question_mark")
            w.active.remove("question")
        else:
            opener = r.choice(["I like", "We need", "Look at", "Bring me", "I lost"])
            w.add(opener + " ")
            w.add(r.choice(OBJECTS), "object")
            if r.random() < 0.5:
                w.add(", ")
                self.person(addressee)
            w.add(".", "sentence_period")
        w.active.remove("in_quote")
        w.add('"', "quote_close")


def generate_stories(cfg: CorpusConfig | None = None) -> Corpus:
    """Write `cfg.n_stories` stories from the seeded grammar, with character spans of every latent variable.

    Stories are separated by a blank line. The same config always gives the same text and spans.
    """
    cfg = cfg or CorpusConfig()
    rng = random.Random(cfg.seed)
    w = _Writer()
    for i in range(cfg.n_stories):
        story = _Story(rng, w)
        for _ in range(rng.randint(5, 9)):
            story.sentence()
        if w.parts[-1] == " ":  # no space before the blank line
            w.parts.pop()
            w.n -= 1
        if i < cfg.n_stories - 1:
            w.add("\n\n")
    text = w.text()
    spans = [(s, min(e, len(text)), k) for s, e, k in w.spans if s < len(text)]
    return Corpus(text=text, spans=spans, labels=LATENTS, source=f"generated stories (n={cfg.n_stories}, seed={cfg.seed})")


def load_text_file(path: str | Path) -> Corpus:
    """A local UTF-8 text file as an unlabelled corpus. An empty or non-UTF-8 file raises ValueError naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise ValueError(f"{path}: no such file") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); convert it to UTF-8 first") from e
    if not text.strip():
        raise ValueError(f"{path}: the file is empty (a corpus needs some text)")
    return Corpus(text=text, source=str(path))


def load_hf_dataset(name: str, split: str = "train", text_field: str = "text", max_rows: int | None = 10_000,
                    **kwargs) -> Corpus:
    """Rows of a Hugging Face dataset joined by blank lines (needs `pip install datasets` and, for a hub name, a network).

    E.g. `load_hf_dataset("roneneldan/TinyStories", max_rows=20_000)`; `load_hf_dataset("text", data_files="a.txt")`
    reads a local file. `kwargs` go to `datasets.load_dataset`.
    """
    try:
        import datasets
    except ImportError as e:
        raise ImportError("load_hf_dataset needs the optional dependency `datasets`: pip install 'sae-kit[hf]'") from e
    ds = datasets.load_dataset(name, split=split, **kwargs)
    if text_field not in ds.column_names:
        raise ValueError(f"text_field={text_field!r} is not a column of {name!r}; columns: {ds.column_names}")
    n = len(ds) if max_rows is None else min(max_rows, len(ds))
    rows = [str(ds[i][text_field]) for i in range(n)]
    text = "\n\n".join(r for r in rows if r.strip())
    if not text:
        raise ValueError(f"{name!r} ({split}) has no text in column {text_field!r}")
    return Corpus(text=text, source=f"huggingface:{name}:{split}")


from sae_kit.lm.tokenizer import TokenizedCorpus, Tokenizer, train_tokenizer  # noqa: E402  (kept importable from here)
