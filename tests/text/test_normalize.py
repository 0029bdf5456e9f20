"""Hand-checked normalisation examples, at least 15 per language."""

from __future__ import annotations

import pytest

from tts.errors import UnsupportedLanguageError
from tts.text import normalize

GOLDEN = {
    "en": [
        # fractions and multipliers (tts/text/fraction_words.py)
        ("Add 1/2 cup and 3/4 of it.", "Add one half cup and three quarters of it."),
        ("Add ½ cup.", "Add one half cup."),
        ("It is 2/3 done, 1/10 left.", "It is two thirds done, one tenth left."),
        (
            "Open 24/7, 3x faster, a 3x3 grid.",
            "Open twenty four seven, three times faster, a three by three grid.",
        ),
        # phone numbers digit by digit (tts/text/phone_numbers.py); ranges stay numbers
        (
            "Call +1 212 555 0100.",
            "Call plus one, two one two, five five five, zero one zero zero.",
        ),
        ("Call (03) 1234-5678.", "Call zero three, one two three four, five six seven eight."),
        ("From 1990-2000.", "From nineteen ninety-two thousand."),
        # numeric dates, decades and units (tts/text/dates_units.py)
        ("On 12/06/2024 we met.", "On December sixth, twenty twenty four we met."),
        ("Born 25/12/1990.", "Born December twenty fifth, nineteen ninety."),
        ("Due 2024-12-06.", "Due December sixth, twenty twenty four."),
        ("It was December 6, 2024.", "It was December sixth, twenty twenty four."),
        ("On Dec. 6 we left.", "On December sixth we left."),
        ("It was 6 December.", "It was the sixth of December."),
        ("In the 1990s and the '80s.", "In the nineteen nineties and the eighties."),
        (
            "It was 20°C or 68 °F.",
            "It was twenty degrees Celsius or sixty eight degrees Fahrenheit.",
        ),
        (
            "It was 1 km, then 2.5 km at 120 km/h.",
            "It was one kilometer, then two point five kilometers at one hundred and twenty kilometers per hour.",
        ),
        ("In May 2024.", "In May twenty twenty four."),
        ("On 13/13/2024.", "On thirteen/thirteen/twenty twenty four."),
        ("I have 3 apples.", "I have three apples."),
        ("It costs $5.", "It costs five dollars."),
        ("It costs $5.50.", "It costs five dollars fifty cents."),
        ("It costs €20.", "It costs twenty euros."),
        ("Pay £1 now.", "Pay one pound now."),
        ("Meet me at 3:30.", "Meet me at three thirty."),
        ("Meet me at 7:00.", "Meet me at seven o'clock."),
        ("Meet me at 9:05 am.", "Meet me at nine oh five a m."),
        ("She was born in 1990.", "She was born in nineteen ninety."),
        ("The year 1900.", "The year nineteen hundred."),
        ("The 1st and 22nd.", "The first and twenty second."),
        ("Temperature: -5 degrees.", "Temperature: minus five degrees."),
        ("Pi is 3.14.", "Pi is three point one four."),
        ("There are 1,000,000 stars.", "There are one million stars."),
        ("It is 50% off.", "It is fifty percent off."),
        ("Dr. Smith and Mr. Jones.", "doctor Smith and mister Jones."),
        ("Apples, pears, etc.", "Apples, pears, et cetera."),
        ("Fruit, e.g. apples.", "Fruit, for example apples."),
        ("Room No. 7", "Room number seven"),
        ("MP3 player", "MP three player"),
        ("“Hello”  —  he said...", '"Hello" — he said…'),
    ],
    "de": [
        ("Eine 3/4 Stunde, 3x schneller.", "Eine drei Viertel Stunde, dreimal schneller."),
        ("1/2 Liter und 1/3 davon.", "einhalb Liter und ein Drittel davon."),
        ("Ruf 030-1234567 an.", "Ruf null drei null, eins zwei drei vier fünf sechs sieben an."),
        ("Fällig am 2024-12-06.", "Fällig am sechsten Dezember zweitausendvierundzwanzig."),
        ("Es waren 20°C.", "Es waren zwanzig Grad Celsius."),
        (
            "Nach 5 km und 2,5 kg bei 100 km/h.",
            "Nach fünf Kilometer und zwei Komma fünf Kilogramm bei einhundert Kilometer pro Stunde.",
        ),
        ("Ich habe 3 Äpfel.", "Ich habe drei Äpfel."),
        ("Es kostet 5 €.", "Es kostet fünf Euro."),
        ("Es kostet 5,50 €.", "Es kostet fünf Euro fünfzig."),
        ("Es kostet €20.", "Es kostet zwanzig Euro."),
        ("Um 15:30 Uhr.", "Um fünfzehn Uhr dreißig."),
        ("Um 8 Uhr.", "Um acht Uhr."),
        ("Am 3. Mai.", "Am dritten Mai."),
        ("Der 1. Platz.", "Der erste Platz."),
        (
            "Am 24.12.2024 ist Weihnachten.",
            "Am vierundzwanzigsten Dezember zweitausendvierundzwanzig ist Weihnachten.",
        ),
        ("Im Jahr 1990.", "Im Jahr neunzehnhundertneunzig."),
        ("Im Jahr 2024.", "Im Jahr zweitausendvierundzwanzig."),
        ("Es hat -5 Grad.", "Es hat minus fünf Grad."),
        ("Pi ist 3,14.", "Pi ist drei Komma eins vier."),
        ("Es sind 10.000 Menschen.", "Es sind zehntausend Menschen."),
        ("Es gibt 50% Rabatt.", "Es gibt fünfzig Prozent Rabatt."),
        ("z.B. Äpfel usw.", "zum Beispiel Äpfel und so weiter."),
        ("Dr. Müller und Prof. Schmidt.", "Doktor Müller und Professor Schmidt."),
        ("Nr. 5", "Nummer fünf"),
        ("Ich bin 3. Dann.", "Ich bin drei. Dann."),
    ],
    "ko": [
        ("물 1/2 컵", "물 이분의 일 컵"),
        ("010-1234-5678로 전화하세요.", "공 일 공, 일 이 삼 사, 오 육 칠 팔로 전화하세요."),
        ("2024.12.06에 만났다.", "이천이십사 년 십이 월 육 일에 만났다."),
        ("2024-12-06", "이천이십사 년 십이 월 육 일"),
        ("기온은 20°C.", "기온은 섭씨 이십 도."),
        ("120km/h로 달렸다.", "시속 백이십 킬로미터로 달렸다."),
        ("시속 100km/h.", "시속 백 킬로미터."),
        ("무게는 3kg.", "무게는 삼 킬로그램."),
        ("3시에 만나요.", "세 시에 만나요."),
        ("3분 걸려요.", "삼 분 걸려요."),
        ("사과 2개 주세요.", "사과 두 개 주세요."),
        ("20살이에요.", "스무 살이에요."),
        ("25살이에요.", "스물다섯 살이에요."),
        ("학생 3명", "학생 세 명"),
        ("6월 10일", "유월 십 일"),
        ("10월 3일", "시월 삼 일"),
        ("2024년", "이천이십사 년"),
        ("1000원", "천 원"),
        ("₩5000", "오천 원"),
        ("$5", "오 달러"),
        ("3:30에 만나요", "세 시 삼십 분에 만나요"),
        ("1번째", "첫 번째"),
        ("2번째", "두 번째"),
        ("50%", "오십 퍼센트"),
        ("-5도", "마이너스 오 도"),
        # a malformed thousands group: every digit is read, none is left for a second pass
        ("0,0000", "영, 영 영 영 영"),
        ("1,234원", "천이백삼십사 원"),
        ("3.14", "삼 점 일 사"),
        ("100명", "백 명"),
    ],
    "vi": [
        ("Gọi 090-123-4567.", "Gọi không chín không, một hai ba, bốn năm sáu bảy."),
        ("½ cốc, ngày 1/2.", "một phần hai cốc, ngày một tháng hai."),
        ("Hạn 2024-12-06.", "Hạn sáu tháng mười hai năm hai nghìn không trăm hai mươi tư."),
        ("Nhiệt độ 20°C.", "Nhiệt độ hai mươi độ C."),
        ("Chạy 5km, nặng 3 kg.", "Chạy năm ki lô mét, nặng ba ki lô gam."),
        ("Tôi có 3 quả táo.", "Tôi có ba quả táo."),
        ("Giá 10.000 VND.", "Giá mười nghìn đồng."),
        ("Giá $5.", "Giá năm đô la."),
        ("Lúc 15:30.", "Lúc mười lăm giờ ba mươi phút."),
        ("Lúc 7h.", "Lúc bảy giờ."),
        ("Ngày 2/9/1945.", "Ngày hai tháng chín năm một nghìn chín trăm bốn mươi lăm."),
        ("Năm 2024.", "Năm hai nghìn không trăm hai mươi tư."),
        ("thứ 2", "thứ hai"),
        ("thứ 1", "thứ nhất"),
        ("thứ 4", "thứ tư"),
        ("50%", "năm mươi phần trăm"),
        ("-5 độ", "âm năm độ"),
        ("3,14", "ba phẩy mười bốn"),
        ("21 người", "hai mươi mốt người"),
        ("105 người", "một trăm lẻ năm người"),
        ("1.000.000 người", "một triệu người"),
        ("TP. Hồ Chí Minh", "thành phố Hồ Chí Minh"),
        ("15 tuổi", "mười lăm tuổi"),
    ],
    "ja": [
        ("1/2カップ", "2分の1カップ"),
        ("03-1234-5678です。", "03-1234-5678です。"),  # OpenJTalk reads it digit by digit
        ("2024/12/06に会いました。", "2024年12月6日に会いました。"),
        ("2024-12-06です。", "2024年12月6日です。"),
        ("気温は20°Cでした。", "気温は20度でした。"),
        ("-3°Cでした。", "マイナス3度でした。"),
        ("68°Fです。", "華氏68度です。"),
        # OpenJTalk reads digits with counters itself (checked in test_phonemize.py).
        ("3時に会いましょう。", "3時に会いましょう。"),
        ("100円です。", "100円です。"),
        ("3本ください。", "3本ください。"),
        ("$5です。", "5ドルです。"),
        ("5€です。", "5ユーロです。"),
        ("¥100です。", "100円です。"),
        ("3:30に出発。", "3時30分に出発。"),
        ("-5度です。", "マイナス5度です。"),
        ("10000000円", "一千万円"),
        ("1,000円", "1000円"),
        ("50%です", "50%です"),
        ("2024年1月1日", "2024年1月1日"),
        ("１２３", "123"),
        ("1st", "1番目"),
        ("ﾃｽﾄ", "テスト"),
        ("こんにちは！！", "こんにちは!"),
    ],
}


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [(lang, text, expected) for lang, pairs in GOLDEN.items() for text, expected in pairs],
)
def test_golden_normalisation(language: str, text: str, expected: str) -> None:
    assert normalize(text, language) == expected


def test_at_least_fifteen_examples_per_language() -> None:
    assert all(len(pairs) >= 15 for pairs in GOLDEN.values())


@pytest.mark.parametrize("language", ["en", "de", "ko", "vi", "ja"])
def test_idempotent_on_golden_outputs(language: str) -> None:
    for _, expected in GOLDEN[language]:
        assert normalize(expected, language) == expected


def test_unsupported_language() -> None:
    with pytest.raises(UnsupportedLanguageError):
        normalize("hola", "es")


def test_language_codes_are_normalised() -> None:
    assert normalize("3 apples", "en-US") == "three apples"
