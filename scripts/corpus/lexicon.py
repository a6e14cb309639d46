"""Words of the messages: callers' names, items as callers say them, questions, background
chatter. Hand-written for this corpus (never copied from the FAQ's own `questions:` or its
evaluation sets, so that question messages stay a fair test of the FAQ retrieval)."""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES_F = [
    "Claire",
    "Sophie",
    "Nadia",
    "Fatima",
    "Isabelle",
    "Chantal",
    "Leïla",
    "Sandrine",
    "Nathalie",
    "Marie",
    "Lucie",
    "Amandine",
    "Samia",
    "Josiane",
    "Hélène",
    "Inès",
    "Christine",
    "Aurélie",
    "Yasmina",
    "Mireille",
    "Odile",
    "Carole",
    "Sylvie",
    "Karima",
    "Laetitia",
    "Agnès",
    "Rose",
    "Julie",
    "Élodie",
    "Malika",
]
FIRST_NAMES_M = [
    "Karim",
    "Paul",
    "Rachid",
    "Olivier",
    "Thomas",
    "Lucas",
    "Yacine",
    "François",
    "Mehdi",
    "Jean",
    "Pierre",
    "Marc",
    "Antoine",
    "Nicolas",
    "Sébastien",
    "Farid",
    "Gérard",
    "Hugo",
    "Julien",
    "Mohamed",
    "Patrick",
    "Vincent",
    "Bernard",
    "Alain",
    "Kevin",
    "Sofiane",
    "Laurent",
    "Mathieu",
    "Christophe",
    "Rémi",
]
LAST_NAMES = [
    "Martin",
    "Benali",
    "Durand",
    "Roux",
    "Petit",
    "Giraud",
    "Fabre",
    "Garcia",
    "Mercier",
    "Baptiste",
    "Amrani",
    "Blanc",
    "Bonnet",
    "Lambert",
    "Ferrari",
    "Rossi",
    "Aubert",
    "Chevalier",
    "Dupont",
    "Moreau",
    "Lefebvre",
    "Bernard",
    "Rousseau",
    "Meyer",
    "Haddad",
    "Bouchard",
    "Ricard",
    "Castellan",
    "Pellegrin",
    "Olivieri",
    "Santoni",
    "Mansouri",
    "Nguyen",
    "Cohen",
    "Gauthier",
    "Rey",
    "Barthélémy",
    "Marchetti",
    "Faure",
    "Roubaud",
    "Estève",
    "Arnaud",
    "Brun",
    "Mouret",
    "Brémond",
]


@dataclass(frozen=True)
class ItemForm:
    """An item as callers say it: singular, plural, grammatical gender, catalogue name."""

    singular: str
    plural: str
    feminine: bool
    item: str  # canonical name in corpus/items.yaml
    accepted: bool = True


def _f(singular: str, plural: str, fem: bool, item: str, accepted: bool = True) -> ItemForm:
    return ItemForm(singular, plural, fem, item, accepted)


ACCEPTED = (
    _f("canapé", "canapés", False, "canapé"),
    _f("clic-clac", "clic-clac", False, "canapé"),
    _f("frigo", "frigos", False, "réfrigérateur"),
    _f("réfrigérateur", "réfrigérateurs", False, "réfrigérateur"),
    _f("congélateur", "congélateurs", False, "congélateur"),
    _f("machine à laver", "machines à laver", True, "lave-linge"),
    _f("lave-vaisselle", "lave-vaisselle", False, "lave-vaisselle"),
    _f("sèche-linge", "sèche-linge", False, "sèche-linge"),
    _f("gazinière", "gazinières", True, "cuisinière"),
    _f("micro-ondes", "micro-ondes", False, "micro-ondes"),
    _f("télévision", "télévisions", True, "télévision"),
    _f("télé", "télés", True, "télévision"),
    _f("matelas", "matelas", False, "matelas"),
    _f("sommier", "sommiers", False, "sommier"),
    _f("lit", "lits", False, "lit"),
    _f("armoire", "armoires", True, "armoire"),
    _f("commode", "commodes", True, "commode"),
    _f("buffet", "buffets", False, "buffet"),
    _f("bureau", "bureaux", False, "bureau"),
    _f("table", "tables", True, "table"),
    _f("chaise", "chaises", True, "chaise"),
    _f("fauteuil", "fauteuils", False, "fauteuil"),
    _f("étagère", "étagères", True, "étagère"),
    _f("table de chevet", "tables de chevet", True, "table de chevet"),
    _f("vélo", "vélos", False, "vélo"),
    _f("poussette", "poussettes", True, "poussette"),
    _f("cumulus", "cumulus", False, "ballon d'eau chaude"),
    _f("radiateur", "radiateurs", False, "radiateur"),
    _f("miroir", "miroirs", False, "miroir"),
    _f("salon de jardin", "salons de jardin", False, "salon de jardin"),
)

REFUSED = (
    _f("pneu", "pneus", False, "pneu", False),
    _f("bouteille de gaz", "bouteilles de gaz", True, "bouteille de gaz", False),
    _f("sac de gravats", "sacs de gravats", False, "gravats", False),
    _f("sac de ciment", "sacs de ciment", False, "gravats", False),
    _f("batterie de voiture", "batteries de voiture", True, "batterie de voiture", False),
    _f("pot de peinture", "pots de peinture", False, "déchets dangereux", False),
    _f("plaque de fibrociment", "plaques de fibrociment", True, "amiante", False),
    _f("sac de branchages", "sacs de branchages", False, "déchets verts", False),
)

# FAQ entry (corpus/faq/<id>.md) that answers a question about a refused item.
REFUSED_TOPIC = {
    "pneu": "pneus",
    "bouteille de gaz": "bouteille-gaz",
    "gravats": "gravats",
    "batterie de voiture": "batteries",
    "déchets dangereux": "produits-dangereux",
    "amiante": "amiante",
    "déchets verts": "dechets-verts",
}
ACCEPTED_TOPIC = "objets-acceptes"

# Questions by FAQ id: our own wording, as a caller would leave it on a voicemail.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "decheteries": (
        "Je voudrais savoir où se trouve la déchèterie la plus proche de chez moi.",
        "Elle ouvre à quelle heure, la déchèterie, le dimanche ?",
    ),
    "acces-decheterie": ("Est-ce que je peux aller à la déchèterie avec une camionnette ?",),
    "gratuit": (
        "Est-ce que c'est payant, l'enlèvement des encombrants ?",
        "Ça coûte combien pour faire enlever un canapé ?",
    ),
    "delai": (
        "Vous passez sous combien de jours en général ?",
        "Il faut attendre combien de temps pour avoir un passage ?",
    ),
    "heure-sortie": (
        "À quelle heure je dois descendre mes objets, la veille au soir ou le matin ?",
    ),
    "limite-objets": (
        "Combien d'objets je peux donner en une seule fois ?",
        "Il y a une limite au nombre de meubles par passage ?",
    ),
    "annuler": ("Comment je fais pour annuler un rendez-vous que j'ai pris ?",),
    "modifier": ("Est-ce que je peux changer la date de mon rendez-vous ?",),
    "non-collecte": ("Mes meubles sont toujours sur le trottoir, personne n'est passé ce matin.",),
    "confirmation-sms": ("Je n'ai jamais reçu le texto de confirmation, c'est normal ?",),
    "professionnels": ("Je suis artisan, est-ce que je peux utiliser votre service ?",),
    "communes": ("Est-ce que vous passez aussi dans les villages autour d'Aix ?",),
    "depot-sauvage": (
        "Est-ce que je peux laisser mon vieux matelas en bas de l'immeuble sans rendez-vous ?",
    ),
    "reemploi": ("Mon armoire est encore en bon état, est-ce que je peux la donner ?",),
    "reprise-magasin": ("Le magasin qui me livre le nouveau frigo, il peut reprendre l'ancien ?",),
    "horaires-service": ("Vous êtes ouverts à quelle heure demain matin ?",),
    "robot": ("Est-ce que je parle à un robot, là ?",),
    "lieu-depot": ("Où est-ce que je dois poser les objets le jour du passage ?",),
    "preparation": ("Est-ce qu'il faut démonter l'armoire avant que vous passiez ?",),
    "application": ("Il existe une application pour prendre rendez-vous ?",),
    "medicaments": ("Qu'est-ce que je fais de mes vieux médicaments ?",),
    "vehicules": ("Vous pouvez enlever une vieille voiture qui ne roule plus ?",),
    "ordures-menageres": ("Vous prenez aussi les sacs poubelle ?",),
}

# Questions asked together with a booking (short, after the request).
SIDE_QUESTIONS = ("gratuit", "delai", "heure-sortie", "limite-objets", "lieu-depot", "preparation")

ITEM_QUESTIONS = (
    "Est-ce que vous prenez les {plural} ?",
    "Vous ramassez aussi {indef} ?",
    "Je peux mettre {indef} avec les encombrants ?",
    "Qu'est-ce que je fais {de_def} ?",
)

GREETINGS = ("Bonjour", "Bonsoir", "Oui bonjour", "Allô, bonjour", "Bonjour madame, monsieur")
INTROS = (
    "je m'appelle {name}",
    "c'est {name}",
    "ici {title} {name}",
    "{name} à l'appareil",
)
REQUESTS = (
    "Je voudrais faire enlever {items}.",
    "J'aurais besoin que vous passiez prendre {items}.",
    "Je souhaite un rendez-vous pour {items}.",
    "Je voudrais me débarrasser {de_items}.",
    "C'est pour faire ramasser {items}.",
)
REFUSED_ONLY_REQUESTS = (
    "Je voudrais que vous passiez prendre {items}.",
    "J'ai {items} à faire enlever.",
    "Est-ce que vous pouvez venir chercher {items} ?",
)
CALLBACKS = (
    "Vous pouvez me rappeler au {phone}.",
    "Mon numéro, c'est le {phone}.",
    "Rappelez-moi plutôt au {phone}, c'est mon portable.",
    "Pour me joindre, c'est le {phone}.",
)
CLOSINGS = (
    "Merci.",
    "Merci beaucoup, au revoir.",
    "Bonne journée.",
    "Merci d'avance.",
    "Bonne soirée.",
)
QUESTION_LEADS = ("Et j'ai une question.", "Au fait,", "Et aussi,", "Autre chose,")
CANCEL_REFS = (
    "le rendez-vous de jeudi",
    "le passage prévu lundi",
    "le rendez-vous de la semaine prochaine",
)
RESIDENCES = (
    "Les Oliviers",
    "Les Pins",
    "Le Parc Fleuri",
    "Les Lauriers",
    "La Rose",
    "Les Cigales",
)

# What a second person says in the background (second-speaker condition).
BACKGROUND = (
    "Tu as vu mes clés quelque part ?",
    "On mange à quelle heure ce soir ?",
    "Ferme la fenêtre, il fait froid.",
    "Attends, je suis au téléphone.",
    "Maman, je peux regarder la télé ?",
    "Le chien veut sortir, tu t'en occupes ?",
    "N'oublie pas le pain en rentrant.",
    "Baisse un peu la musique, s'il te plaît.",
)
