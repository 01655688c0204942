"""The demo's fixed content: branches, customers, contracts, objects and texts (Russian, realistic).

Plain data only; crm/services/demo.py turns it into rows. Requisites are fictional but carry valid
check digits (INN via crm.validators.complete_inn, OGRN/OGRNIP and OKPO computed here).
"""
from __future__ import annotations

from decimal import Decimal

from crm.validators import complete_inn

UTILITY = "АО «Тверьэнергосбыт»"

# Passwords of the demo logins (DEMO_LOGINS in demo.py prints them).
ADMIN_PASSWORD = "Admin2026pass"
CURATOR_PASSWORD = "Curator2026pass"
CUSTOMER_PASSWORD = "Demo2026pass"


def ogrn(prefix12: str) -> str:
    """A 13-digit OGRN: the check digit is the 12-digit prefix mod 11, last digit."""
    return prefix12 + str(int(prefix12) % 11 % 10)


def ogrnip(prefix14: str) -> str:
    """A 15-digit OGRNIP: the check digit is the 14-digit prefix mod 13, last digit."""
    return prefix14 + str(int(prefix14) % 13 % 10)


def okpo(prefix: str) -> str:
    """An OKPO (8 digits for organisations, 10 for entrepreneurs) with its check digit."""
    def weighted(start: int) -> int:
        return sum(int(d) * ((start + i - 1) % 10 + 1) for i, d in enumerate(prefix)) % 11

    check = weighted(1)
    if check == 10:
        check = weighted(3)
    return prefix + str(0 if check == 10 else check)


BRANCHES = [
    dict(code="57", name="Центральный филиал", address="170100, г. Тверь, ул. Советская, д. 7",
         phone="+7 (4822) 33-45-10", email="central@tver-energo.example",
         head_name="Кириллов Алексей Михайлович", head_phone="+7 (4822) 33-45-01",
         working_hours="пн–чт 8:30–17:30, пт 8:30–16:15, перерыв 12:30–13:15"),
    dict(code="58", name="Ржевский филиал", address="172390, Тверская обл., г. Ржев, ул. Ленина, д. 21",
         phone="+7 (48232) 2-14-60", email="rzhev@tver-energo.example",
         head_name="Голубева Татьяна Петровна", head_phone="+7 (48232) 2-14-61",
         working_hours="пн–пт 8:00–17:00, перерыв 12:00–12:45"),
    dict(code="59", name="Кимрский филиал", address="171506, Тверская обл., г. Кимры, ул. Кирова, д. 14",
         phone="+7 (48236) 3-02-77", email="kimry@tver-energo.example",
         head_name="Фомин Виктор Игоревич", head_phone="+7 (48236) 3-02-70",
         working_hours="пн–пт 8:00–17:00, перерыв 12:00–13:00"),
]

# The first curator of branch 57 is linked to the `curator` staff login.
CURATORS = [
    dict(branch="57", full_name="Смирнова Анна Викторовна",
         position="Ведущий специалист отдела по работе с юридическими лицами",
         phone="+7 (4822) 33-45-27", email="curator@tver-energo.example", login="curator"),
    dict(branch="57", full_name="Белов Сергей Анатольевич", position="Инженер по расчётам",
         phone="+7 (4822) 33-45-31", email="belov@tver-energo.example"),
    dict(branch="58", full_name="Кравцова Елена Дмитриевна", position="Специалист по работе с потребителями",
         phone="+7 (48232) 2-14-66", email="kravtsova@tver-energo.example"),
    dict(branch="59", full_name="Никитин Олег Валерьевич", position="Инженер сбыта",
         phone="+7 (48236) 3-02-81", email="nikitin@tver-energo.example"),
]

SBER = dict(bank_name="Тверское отделение № 8607 ПАО Сбербанк", bank_bik="042809679",
            bank_corr_account="30101810700000000679")
VTB = dict(bank_name="Филиал № 3652 Банка ВТБ (ПАО)", bank_bik="042007855",
           bank_corr_account="30101810545250000855")
ALFA = dict(bank_name="АО «Альфа-Банк»", bank_bik="044525593", bank_corr_account="30101810200000000593")
RSHB = dict(bank_name="Тверской региональный филиал АО «Россельхозбанк»", bank_bik="042809775",
            bank_corr_account="30101810600000000775")


def _legal(key, full_name, short_name, inn9, ogrn12, okpo7, partner_code, address, phone, email, bank, account):
    inn = complete_inn(inn9)
    return dict(key=key, person_type="legal", full_name=full_name, short_name=short_name, inn=inn,
                kpp=inn[:4] + "01001", ogrn=ogrn(ogrn12), okpo=okpo(okpo7), partner_code=partner_code,
                legal_address=address, postal_address=address, phone=phone, email=email,
                bank_account=account, **bank)


COUNTERPARTIES = [
    _legal("technostyle", "Общество с ограниченной ответственностью «Техностиль»", "ООО «Техностиль»",
           "695012374", "102690051237", "5823140", "1000458712",
           "170001, г. Тверь, Петербургское шоссе, д. 45, стр. 2", "+7 (4822) 35-12-40",
           "info@technostyle.example", SBER, "40702810963000004512"),
    _legal("manufaktura", "Акционерное общество «Северная мануфактура»", "АО «Северная мануфактура»",
           "691400587", "102690126548", "0021486", "1000236590",
           "172386, Тверская обл., г. Ржев, ул. Краностроителей, д. 3", "+7 (48232) 6-45-00",
           "office@sev-manufaktura.example", VTB, "40702810700120003391"),
    _legal("polyclinic", "Государственное бюджетное учреждение здравоохранения Тверской области "
           "«Городская поликлиника № 3»", "ГБУЗ «Городская поликлиника № 3»",
           "695001946", "102690071843", "0193655", "1000118204",
           "170026, г. Тверь, ул. Комсомольская, д. 12", "+7 (4822) 42-17-05",
           "gp3@zdrav-tver.example", SBER, "40601810900003000012"),
    _legal("school", "Муниципальное бюджетное общеобразовательное учреждение «Средняя общеобразовательная "
           "школа № 17»", "МБОУ «СОШ № 17»", "691001733", "102690182231", "4172096", "1000305517",
           "172390, Тверская обл., г. Ржев, ул. Урицкого, д. 54", "+7 (48232) 3-27-18",
           "school17@rzhev-edu.example", RSHB, "40701810300003000617"),
    _legal("logistic", "Общество с ограниченной ответственностью «Волга-Логистик»", "ООО «Волга-Логистик»",
           "691002915", "116695203371", "0245813", "1000679043",
           "171510, Тверская обл., г. Кимры, Савёловское шоссе, д. 8", "+7 (48236) 4-55-90",
           "dispatch@volga-logistic.example", ALFA, "40702810401300015527"),
    dict(key="entrepreneur", person_type="sole_proprietor",
         full_name="Индивидуальный предприниматель Кузнецов Андрей Петрович", short_name="ИП Кузнецов А. П.",
         inn=complete_inn("6950214783"), kpp=None, ogrn=ogrnip("31869520001247"), okpo=okpo("012764385"),
         partner_code="1000781126", legal_address="170028, г. Тверь, пр-т Победы, д. 30, кв. 61",
         postal_address="170028, г. Тверь, пр-т Победы, д. 30, кв. 61", phone="+7 (910) 648-22-15",
         email="kuznetsov.ap@mail.example", bank_account="40802810863000002218", **SBER),
    dict(key="household", person_type="individual", full_name="Соколова Марина Игоревна",
         short_name="Соколова М. И.", inn=complete_inn("6952087415"), kpp=None, ogrn=None, okpo=None,
         partner_code="2000154873", legal_address="170039, г. Тверь, ул. Паши Савельевой, д. 38, кв. 112",
         postal_address="170039, г. Тверь, ул. Паши Савельевой, д. 38, кв. 112", phone="+7 (915) 731-40-28",
         email="household@demo.example", bank_account=None, bank_name=None, bank_bik=None,
         bank_corr_account=None),
]

# Meter profiles: how each kind of object consumes per month at its seasonal peak.
# (name, kWh per month for electricity or Гкал per month for heat)
_O = dict

CONTRACTS = [
    dict(key="shared", counterparty="technostyle", branch="57", kind="electricity", price_category="III",
         serial=1, signed_on=(2017, 3, 14), tariff="EL-III", debtor=True, curators=[0, 1],
         corrective=(8, "0.032"), penalty="4718.36",
         emails=["energo@technostyle.example", "buh@technostyle.example"],
         contacts=[("Волков Игорь Николаевич", "Генеральный директор", "+7 (4822) 35-12-41"),
                   ("Морозов Павел Викторович", "Главный энергетик", "+7 (4822) 35-12-47"),
                   ("Егорова Наталья Сергеевна", "Главный бухгалтер", "+7 (4822) 35-12-44")],
         objects=[_O(name="Административное здание", address="г. Тверь, Петербургское шоссе, д. 45, стр. 2",
                     kwh=18000),
                  _O(name="Производственный цех № 1", address="г. Тверь, Петербургское шоссе, д. 45, стр. 5",
                     kwh=64000, export=True, inputs=2),
                  _O(name="Производственный цех № 2", address="г. Тверь, Петербургское шоссе, д. 45, стр. 6",
                     kwh=52000),
                  _O(name="Склад готовой продукции", address="г. Тверь, Петербургское шоссе, д. 45, стр. 8",
                     kwh=9000),
                  _O(name="Компрессорная станция", address="г. Тверь, Петербургское шоссе, д. 45, стр. 9",
                     kwh=23000)]),
    dict(key="technostyle_heat", counterparty="technostyle", branch="57", kind="heat", price_category=None,
         serial=2, signed_on=(2018, 9, 28), tariff="HEAT", debtor=False, curators=[1],
         emails=["energo@technostyle.example"],
         contacts=[("Волков Игорь Николаевич", "Генеральный директор", "+7 (4822) 35-12-41")],
         objects=[_O(name="Административное здание", address="г. Тверь, Петербургское шоссе, д. 45, стр. 2",
                     gcal=62),
                  _O(name="Производственный цех № 1", address="г. Тверь, Петербургское шоссе, д. 45, стр. 5",
                     gcal=140),
                  _O(name="Бытовой корпус", address="г. Тверь, Петербургское шоссе, д. 45, стр. 3", gcal=38)]),
    dict(key="manufaktura", counterparty="manufaktura", branch="58", kind="electricity", price_category="IV",
         serial=3, signed_on=(2015, 12, 30), tariff="EL-III", debtor=False, curators=[2],
         emails=["energetik@sev-manufaktura.example"],
         contacts=[("Зайцев Роман Олегович", "Заместитель директора по производству", "+7 (48232) 6-45-12"),
                   ("Панова Лариса Юрьевна", "Начальник финансового отдела", "+7 (48232) 6-45-20")],
         objects=[_O(name="Прядильный корпус", address="г. Ржев, ул. Краностроителей, д. 3, корп. 1",
                     kwh=210000, export=True, inputs=2),
                  _O(name="Ткацкий корпус", address="г. Ржев, ул. Краностроителей, д. 3, корп. 2", kwh=180000,
                     inputs=2),
                  _O(name="Котельная", address="г. Ржев, ул. Краностроителей, д. 3, корп. 7", kwh=42000),
                  _O(name="Заводоуправление", address="г. Ржев, ул. Краностроителей, д. 3", kwh=15000)]),
    dict(key="polyclinic", counterparty="polyclinic", branch="57", kind="electricity", price_category="II",
         serial=4, signed_on=(2019, 1, 9), tariff="EL-ZONE", debtor=False, curators=[0],
         corrective=(11, "-0.018"),
         emails=["gp3@zdrav-tver.example"],
         contacts=[("Андреева Светлана Павловна", "Заместитель главного врача по АХЧ", "+7 (4822) 42-17-11")],
         objects=[_O(name="Главный корпус", address="г. Тверь, ул. Комсомольская, д. 12", kwh=26000, zones=3),
                  _O(name="Лабораторный корпус", address="г. Тверь, ул. Комсомольская, д. 12, корп. 2",
                     kwh=11000, zones=2),
                  _O(name="Гараж", address="г. Тверь, ул. Комсомольская, д. 12, стр. 4", kwh=2500, zones=2)]),
    dict(key="school", counterparty="school", branch="58", kind="heat", price_category=None,
         serial=5, signed_on=(2016, 8, 15), tariff="HEAT", debtor=False, curators=[2],
         emails=["school17@rzhev-edu.example"],
         contacts=[("Тихонова Галина Аркадьевна", "Директор", "+7 (48232) 3-27-18")],
         objects=[_O(name="Здание школы", address="г. Ржев, ул. Урицкого, д. 54", gcal=95),
                  _O(name="Спортивный зал", address="г. Ржев, ул. Урицкого, д. 54, стр. 1", gcal=27)]),
    dict(key="logistic", counterparty="logistic", branch="59", kind="heat", price_category=None,
         serial=6, signed_on=(2021, 10, 1), tariff="HEAT", debtor=False, curators=[3],
         emails=["dispatch@volga-logistic.example"],
         contacts=[("Лаптев Максим Андреевич", "Технический директор", "+7 (48236) 4-55-93")],
         objects=[_O(name="Складской комплекс «А»", address="г. Кимры, Савёловское шоссе, д. 8, стр. 1",
                     gcal=120),
                  _O(name="Офисно-бытовой корпус", address="г. Кимры, Савёловское шоссе, д. 8", gcal=31),
                  _O(name="Ремонтный бокс", address="г. Кимры, Савёловское шоссе, д. 8, стр. 3", gcal=44)]),
    dict(key="entrepreneur", counterparty="entrepreneur", branch="59", kind="electricity", price_category="I",
         serial=7, signed_on=(2020, 4, 20), tariff="EL-NN", debtor=True, curators=[3],
         emails=["kuznetsov.ap@mail.example"],
         contacts=[("Кузнецов Андрей Петрович", "Индивидуальный предприниматель", "+7 (910) 648-22-15")],
         objects=[_O(name="Магазин «Продукты»", address="г. Кимры, ул. Кирова, д. 27", kwh=4200),
                  _O(name="Пекарня", address="г. Кимры, ул. Кирова, д. 27а", kwh=6100)]),
    dict(key="household", counterparty="household", branch="57", kind="electricity", price_category=None,
         serial=8, signed_on=(2012, 6, 5), tariff="EL-HH", debtor=True, curators=[0], household=True,
         emails=["household@demo.example"], contacts=[],
         objects=[_O(name="Квартира", address="г. Тверь, ул. Паши Савельевой, д. 38, кв. 112", kwh=230,
                     zones=2)]),
]

# Tariff groups: zone → rate (₽ per unit, VAT excluded except households) at the start of the demo;
# each 1 July the rate rises (indexation), which gives the tariff history.
TARIFFS = {
    "EL-NN": dict(name="Электроэнергия, прочие потребители, I ценовая категория, НН", unit="кВт·ч",
                  zones={"all_day": Decimal("7.48210")}),
    "EL-ZONE": dict(name="Электроэнергия, II ценовая категория (по зонам суток)", unit="кВт·ч",
                    zones={"day": Decimal("8.61450"), "night": Decimal("4.93720"), "peak": Decimal("10.21860"),
                           "semi_peak": Decimal("7.88940")}),
    "EL-III": dict(name="Электроэнергия, III–IV ценовая категория (средневзвешенная)", unit="кВт·ч",
                   zones={"all_day": Decimal("6.85330")}),
    "EL-HH": dict(name="Население, городские квартиры с электроплитами, двухзонный", unit="кВт·ч",
                  zones={"day": Decimal("5.89000"), "night": Decimal("3.41000")}),
    "HEAT": dict(name="Тепловая энергия в горячей воде", unit="Гкал", zones={"all_day": Decimal("2742.18000")}),
}
TARIFF_INDEXATION = Decimal("1.098")

ELECTRICITY_METERS = {
    "interval": [("СЭТ-4ТМ.03М.01", 6, 2), ("ПСЧ-4ТМ.05МК.04", 6, 2), ("Меркурий 234 ARTM-03 PB.G", 6, 2)],
    "commercial": [("Меркурий 230 ART-03 PQRSIN", 6, 2), ("Энергомера CE301 R33", 5, 1),
                   ("Меркурий 234 ARTM-01 PB.R", 8, 2)],
    "household": [("Нева МТ 124 AS OP", 6, 1)],
}
HEAT_METERS = [("ТЭМ-106", 6, 2), ("ВКТ-7-04", 7, 2), ("СПТ-943.1", 5, 2)]

USERS = {
    "admin": dict(first_name="Дмитрий", last_name="Орлов", patronymic="Сергеевич", email="admin@tver-energo.example",
                  position="Администратор системы"),
    "curator": dict(first_name="Анна", last_name="Смирнова", patronymic="Викторовна",
                    email="curator@tver-energo.example", position="Ведущий специалист"),
    "director@demo.example": dict(first_name="Игорь", last_name="Волков", patronymic="Николаевич",
                                  position="Генеральный директор", organisation="ООО «Техностиль»",
                                  phone="+7 (910) 530-12-41"),
    "manager@demo.example": dict(first_name="Ольга", last_name="Лебедева", patronymic="Александровна",
                                 position="Начальник административно-хозяйственного отдела",
                                 organisation="ООО «Техностиль»", phone="+7 (910) 530-12-45"),
    "engineer@demo.example": dict(first_name="Павел", last_name="Морозов", patronymic="Викторович",
                                  position="Главный энергетик", organisation="ООО «Техностиль»",
                                  phone="+7 (910) 530-12-47"),
    "accountant@demo.example": dict(first_name="Наталья", last_name="Егорова", patronymic="Сергеевна",
                                    position="Главный бухгалтер", organisation="ООО «Техностиль»",
                                    phone="+7 (910) 530-12-44"),
    "other@demo.example": dict(first_name="Роман", last_name="Зайцев", patronymic="Олегович",
                               position="Заместитель директора по производству",
                               organisation="АО «Северная мануфактура»", phone="+7 (920) 171-45-12"),
    "household@demo.example": dict(first_name="Марина", last_name="Соколова", patronymic="Игоревна",
                                   phone="+7 (915) 731-40-28",
                                   address="170039, г. Тверь, ул. Паши Савельевой, д. 38, кв. 112"),
}

MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                   "октября", "ноября", "декабря")
MONTHS_NOMINATIVE = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
                     "октябрь", "ноябрь", "декабрь")
