"""Money rules: ISO 4217 currencies and their minor units.

Amounts are integers in minor units (cents); a currency is one of the active ISO 4217 codes.
Source: the ISO 4217 maintenance agency's tables of active codes (funds and metals excluded) and of
their minor units.
"""

from __future__ import annotations

_ACTIVE_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW "
    "KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD "
    "NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD "
    "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES "
    "VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG "
)
_ISO_4217 = frozenset(_ACTIVE_CODES.split())


# Currencies whose minor unit is not the usual 2 decimals (5000 JPY is 5000 minor units).
_ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS = dict.fromkeys(_ZERO_DECIMAL.split(), 0) | dict.fromkeys(_THREE_DECIMAL.split(), 3)


def minor_units(code: str) -> int:
    """Decimal places of a currency's minor unit: 2 for most, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get(code, 2)


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 currency code (upper case, three letters)."""
    return code in _ISO_4217
