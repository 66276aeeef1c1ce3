"""What the region's users read is in French: every dataset title, and the description of every published
product (what DataSud shows). Code, logs and the other descriptions stay in English for now."""

import re

from energy_pipelines.catalog import default_catalog

# words that are common in English prose and are not French words
ENGLISH = {"the", "and", "of", "with", "every", "each", "is", "are", "from", "which", "when", "per", "in",
           "its", "their", "one", "row", "rows", "by", "to", "for", "as", "at", "or", "be", "never", "only"}
FRENCH = {"le", "la", "les", "des", "du", "et", "par", "pour", "une", "un", "avec", "est", "dans", "sur", "de",
          "tel", "que", "au", "aux"}


def words(text: str) -> list[str]:
    # identifiers (out_uc2__green_signal, assets_config/...) are names, not prose
    prose = re.sub(r"\S*[_/]\S*", " ", text)
    return re.findall(r"[a-zà-ÿ']+", prose.lower())


def english_words(text: str) -> list[str]:
    return [w for w in words(text) if w in ENGLISH]


def test_the_heuristic_tells_the_languages_apart():
    assert english_words("One row per UTC half-hour with consumption and the green share") == \
        ["one", "row", "per", "with", "and", "the"]
    assert english_words("Une ligne par demi-heure UTC avec la consommation et la part verte "
                         "(voir out_uc2__green_signal)") == []


def test_every_title_and_every_published_description_is_in_french():
    catalog = default_catalog()
    english = {}
    for spec in catalog.datasets.values():
        texts = {"title": spec.title, **({"description": spec.description} if spec.publish else {})}
        for field, text in texts.items():
            found = english_words(text)
            if len(found) > 1 or not any(w in FRENCH for w in words(text)):
                english[f"{spec.id}.{field}"] = found
    assert english == {}
