"""Money rules: ISO 4217 currencies and their minor units.

Amounts are integers in minor units (cents); a currency is one of the active ISO 4217 codes.
The list is the ISO 4217 maintenance agency's table of active codes (funds and metals excluded).
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


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 currency code (upper case, three letters)."""
    return code in _ISO_4217
