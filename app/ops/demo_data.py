"""Realistic Brazilian demo values: names with accents, valid CPFs, phones, addresses, procedures."""

import random
from dataclasses import dataclass
from datetime import date

from stdnum.br import cpf as stdnum_cpf

from app.services.dental import DECIDUOUS_TEETH, PERMANENT_TEETH
from app.services.patients import search_key
from app.vocabulary import Sex

FEMALE_NAMES = (
    "Maria",
    "Ana",
    "Francisca",
    "Antônia",
    "Adriana",
    "Juliana",
    "Márcia",
    "Fernanda",
    "Patrícia",
    "Aline",
    "Conceição",
    "Luíza",
    "Letícia",
    "Cecília",
    "Fátima",
    "Inês",
    "Lúcia",
    "Beatriz",
    "Gabriela",
    "Camila",
    "Débora",
    "Mônica",
    "Simone",
    "Vitória",
    "Helena",
    "Alícia",
    "Lívia",
    "Sônia",
    "Rosângela",
    "Valéria",
)
MALE_NAMES = (
    "José",
    "João",
    "Antônio",
    "Francisco",
    "Carlos",
    "Paulo",
    "Pedro",
    "Lucas",
    "Luiz",
    "Marcos",
    "Luís",
    "Gabriel",
    "Rafael",
    "Sérgio",
    "Vinícius",
    "Fábio",
    "Márcio",
    "André",
    "Otávio",
    "Caetano",
    "Júlio",
    "Rogério",
    "Cícero",
    "Raimundo",
    "Benedito",
    "Joaquim",
    "Thiago",
    "Matheus",
    "Heitor",
    "Ícaro",
)
SURNAMES = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Ribeiro",
    "Carvalho",
    "Araújo",
    "Gonçalves",
    "Magalhães",
    "Simões",
    "Brandão",
    "Assunção",
    "Conceição",
    "Damásio",
    "Estêvão",
    "Falcão",
    "Guimarães",
    "Lopes",
    "Martins",
    "Mendonça",
    "Nóbrega",
    "Peçanha",
    "Romão",
    "Sampaio",
    "Teixeira",
    "Valadão",
    "Barbosa",
    "Cardoso",
    "Monteiro",
    "Moraes",
    "Macêdo",
)
JOINED_SURNAMES = (
    "da Silva",
    "dos Santos",
    "de Souza",
    "da Conceição",
    "de Oliveira",
    "dos Reis",
    "das Neves",
    "da Costa",
    "de Assunção",
    "do Nascimento",
    "de Jesus",
    "da Luz",
)
STREET_KINDS = ("Rua", "Rua", "Rua", "Avenida", "Travessa", "Alameda")
STREET_NAMES = (
    "das Acácias",
    "São João",
    "Sete de Setembro",
    "XV de Novembro",
    "Dom Pedro II",
    "Tiradentes",
    "das Palmeiras",
    "Marechal Deodoro",
    "Santo Antônio",
    "Padre Anchieta",
    "Presidente Vargas",
    "dos Ipês",
    "Barão do Rio Branco",
    "Conceição",
    "Joaquim Nabuco",
    "Visconde de Mauá",
    "São Benedito",
)
COMPLEMENTS = ("Apto 12", "Apto 304", "Casa 2", "Bloco B, apto 51", "Fundos", "Sala 8", "Apto 1101")
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com.br", "uol.com.br", "outlook.com", "bol.com.br")
ALLERGIES = ("Penicilina", "Dipirona", "Látex", "Anestésico local (lidocaína)", "Ibuprofeno", "Iodo")
MEDICATIONS = (
    "Losartana 50 mg",
    "Metformina 850 mg",
    "AAS 100 mg",
    "Levotiroxina 50 mcg",
    "Sinvastatina 20 mg",
    "Omeprazol 20 mg",
    "Varfarina 5 mg",
)
CONDITIONS = (
    "Hipertensão",
    "Diabetes tipo 2",
    "Cardiopatia",
    "Gestante",
    "Asma",
    "Hipotireoidismo",
    "Uso de anticoagulante",
)
PLAN_TITLES = (
    "Plano de tratamento",
    "Tratamento restaurador",
    "Prevenção e limpeza",
    "Reabilitação oral",
    "Tratamento endodôntico",
    "Estética",
)
SURFACES = ("O", "M", "D", "V", "L", "MO", "OD", "MOD", "VL")


@dataclass(frozen=True)
class City:
    """A city with its state, phone area code, CEP range and a few districts."""

    name: str
    state: str
    ddd: str
    cep_from: int
    cep_to: int
    districts: tuple[str, ...]


CITIES = (
    City("São Paulo", "SP", "11", 1000000, 5999999, ("Vila Mariana", "Moema", "Tatuapé", "Pinheiros", "Santana")),
    City("Campinas", "SP", "19", 13010000, 13099999, ("Cambuí", "Taquaral", "Barão Geraldo")),
    City("Rio de Janeiro", "RJ", "21", 20000000, 23799999, ("Tijuca", "Copacabana", "Méier", "Botafogo")),
    City("Niterói", "RJ", "21", 24000000, 24399999, ("Icaraí", "Santa Rosa", "São Francisco")),
    City("Belo Horizonte", "MG", "31", 30000000, 31999999, ("Savassi", "Funcionários", "Pampulha")),
    City("Curitiba", "PR", "41", 80000000, 82999999, ("Batel", "Água Verde", "Portão")),
    City("Porto Alegre", "RS", "51", 90000000, 91999999, ("Moinhos de Vento", "Menino Deus", "Petrópolis")),
    City("Florianópolis", "SC", "48", 88000000, 88099999, ("Trindade", "Estreito", "Itacorubi")),
    City("Salvador", "BA", "71", 40000000, 42599999, ("Pituba", "Barra", "Itapuã", "Brotas")),
    City("Recife", "PE", "81", 50000000, 52999999, ("Boa Viagem", "Casa Forte", "Graças")),
    City("Fortaleza", "CE", "85", 60000000, 61599999, ("Aldeota", "Meireles", "Benfica")),
    City("Belém", "PA", "91", 66000000, 66999999, ("Nazaré", "Umarizal", "Marco")),
    City("Goiânia", "GO", "62", 74000000, 74899999, ("Setor Bueno", "Setor Oeste", "Jardim Goiás")),
    City("São Luís", "MA", "98", 65000000, 65099999, ("Renascença", "Calhau", "Cohama")),
)

# (code, name, price in cents, applies to one tooth)
PROCEDURES = (
    ("AV01", "Consulta de avaliação", 15000, False),
    ("PR01", "Limpeza (profilaxia)", 20000, False),
    ("PR02", "Aplicação tópica de flúor", 8000, False),
    ("PR03", "Selante (por dente)", 9000, True),
    ("RE01", "Restauração em resina (1 face)", 25000, True),
    ("RE02", "Restauração em resina (2 ou mais faces)", 32000, True),
    ("EN01", "Tratamento de canal (unirradicular)", 90000, True),
    ("EN02", "Tratamento de canal (molar)", 140000, True),
    ("CI01", "Extração simples", 30000, True),
    ("CI02", "Extração de siso", 60000, True),
    ("PT01", "Coroa de porcelana", 180000, True),
    ("ES01", "Clareamento dental", 120000, False),
    ("PE01", "Raspagem periodontal (por quadrante)", 28000, False),
    ("RX01", "Radiografia periapical", 5000, True),
    ("IM01", "Implante dentário", 350000, True),
)


def cpf_from(base9: str) -> str:
    """The CPF whose first nine digits are `base9`, with python-stdnum's check digits.

    python-stdnum 2.2 names the calculation `_calc_check_digits` (CNPJ's is public): trying the 100 pairs with
    `is_valid` gives the same CPF 100 times slower, too slow for 100,000 demo patients. A test pins the two together.
    """
    return base9 + stdnum_cpf._calc_check_digits(base9)


def unique_cpf(rng: random.Random, used: set[str]) -> str:
    """A valid CPF not in `used` (added to it)."""
    while True:
        cpf = cpf_from(f"{rng.randrange(1, 999_999_999):09d}")
        if cpf not in used and cpf != cpf[0] * 11:  # check digits right, but never issued
            used.add(cpf)
            return cpf


def person_name(rng: random.Random, sex: str) -> str:
    """A full name such as `Conceição Araújo dos Santos`."""
    first = rng.choice(FEMALE_NAMES if sex == Sex.F else MALE_NAMES)
    parts = [first]
    if rng.random() < 0.3:
        parts.append(rng.choice(FEMALE_NAMES if sex == Sex.F else MALE_NAMES))
    parts.append(rng.choice(SURNAMES))
    parts.append(rng.choice(JOINED_SURNAMES) if rng.random() < 0.4 else rng.choice(SURNAMES))
    return " ".join(parts)


def mobile_phone(rng: random.Random, ddd: str) -> str:
    """A mobile number in E.164, as the patients service stores it: `+5511987654321`."""
    return f"+55{ddd}9{rng.randrange(6000, 9999)}{rng.randrange(0, 10000):04d}"


def email_for(rng: random.Random, name: str) -> str:
    """An e-mail address derived from a name, without accents."""
    words = search_key(name).split()
    return f"{words[0]}.{words[-1]}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"


def address(rng: random.Random, city: City) -> dict:
    """Street, number, complement, district, city, state and CEP in one city."""
    return {
        "street": f"{rng.choice(STREET_KINDS)} {rng.choice(STREET_NAMES)}",
        "number": str(rng.randrange(1, 3500)),
        "complement": rng.choice(COMPLEMENTS) if rng.random() < 0.3 else None,
        "district": rng.choice(city.districts),
        "city": city.name,
        "state": city.state,
        "cep": f"{rng.randrange(city.cep_from, city.cep_to + 1):08d}",
    }


def birth_date(rng: random.Random, today: date) -> date:
    """A birth date between 3 and 90 years ago."""
    age_days = rng.randrange(3 * 365, 90 * 365)
    return date.fromordinal(today.toordinal() - age_days)


def teeth_for(birth: date, today: date) -> tuple[int, ...]:
    """Deciduous teeth for young children, permanent teeth otherwise (FDI numbering)."""
    return DECIDUOUS_TEETH if (today - birth).days < 9 * 365 else PERMANENT_TEETH
