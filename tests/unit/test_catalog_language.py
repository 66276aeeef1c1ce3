"""What the region's users read is in French: every dataset title, description and column description (DataSud,
the published datapackages and the UI show them). Code and logs stay in English. Datasets whose descriptions are
not yet translated are in PENDING, a list that can only shrink."""

import re

from energy_pipelines.catalog import default_catalog

# words that are common in English prose and are not French words
ENGLISH = {"the", "and", "of", "with", "every", "each", "is", "are", "from", "which", "when", "per", "in",
           "its", "their", "one", "row", "rows", "by", "to", "for", "as", "at", "or", "be", "never", "only",
           # and in the short noun phrases of column descriptions ("Start of the step", "Energy delivered")
           "start", "end", "share", "energy", "number", "day", "month", "year", "hour", "price", "power", "key",
           "name", "not", "without", "between", "over", "under", "above", "below", "after", "before", "during",
           "than", "that", "this", "has", "have", "was", "were", "same", "where", "why", "what", "there", "it"}
FRENCH = {"le", "la", "les", "des", "du", "et", "par", "pour", "une", "un", "avec", "est", "dans", "sur", "de",
          "tel", "que", "au", "aux"}


def words(text: str) -> list[str]:
    # identifiers (out_uc2__green_signal, assets_config/...) are names, not prose
    prose = re.sub(r"\S*[_/]\S*", " ", text)
    # a hyphenated word is one word: "week-end" is French, "half-hour" is not two English words
    return re.findall(r"[a-zà-ÿ']+(?:-[a-zà-ÿ']+)*", prose.lower())


def english_words(text: str) -> list[str]:
    return [w for w in words(text) if w in ENGLISH]


def test_the_heuristic_tells_the_languages_apart():
    assert english_words("One row per UTC half-hour with consumption and the green share") == \
        ["one", "row", "per", "with", "and", "the", "share"]
    assert english_words("Une ligne par demi-heure UTC avec la consommation et la part verte "
                         "(voir out_uc2__green_signal)") == []
    # a column description is a short noun phrase: one English word and no French one is enough
    assert column_is_english("Energy delivered") and column_is_english("Start of the step")
    assert not column_is_english("Énergie délivrée") and not column_is_english("PRM")
    assert not column_is_english("Début UTC de la demi-heure")


PENDING: set[str] = set()  # descriptions not yet translated (a list that can only shrink)


def is_english(text: str) -> bool:
    return len(english_words(text)) > 1 or not any(w in FRENCH for w in words(text))


def column_is_english(text: str) -> bool:
    # "PRM", "Filière", "CONS": a name or a French noun alone is not English prose
    english = english_words(text)
    return len(english) > 1 or (len(english) == 1 and not any(w in FRENCH for w in words(text)))


def test_every_title_and_description_is_in_french():
    catalog = default_catalog()
    english = {}
    for spec in catalog.datasets.values():
        texts = {"title": spec.title, **({"description": spec.description} if spec.id not in PENDING else {})}
        for field, text in texts.items():
            if is_english(text):
                english[f"{spec.id}.{field}"] = english_words(text)
    assert english == {}
    # a published product is never pending, and a translated description leaves the list
    assert not [d for d in PENDING if d in catalog and catalog[d].publish]
    assert [d for d in PENDING if d in catalog and not is_english(catalog[d].description)] == []


def test_every_column_description_is_in_french():
    catalog = default_catalog()
    english = {f"{spec.id}.{name}": english_words(column.description)
               for spec in catalog.datasets.values() if spec.id not in PENDING
               for name, column in spec.table_schema.columns.items() if column_is_english(column.description)}
    assert english == {}
