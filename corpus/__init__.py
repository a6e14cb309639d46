"""Service data shipped with encombot: catalogue, calendar, SMS templates, the territory
(communes, street types, arrondissements), demo territory."""

from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
DEMO_DIR = CORPUS_DIR / "demo"
TEMPLATES_DIR = CORPUS_DIR / "templates"
TERRITORY_DIR = CORPUS_DIR / "territory"
