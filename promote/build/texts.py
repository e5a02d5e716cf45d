"""The texts ADF's publish writes in the language of the Studio that publishes: parameter descriptions and the
commit message. English by default; the reference publishes of a Japanese-locale Studio show the Japanese ones
(KenshoHigashi, taizawa512 in 2023)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Texts:
    factory_name: str  # factoryName's metadata
    secure: str  # a secure parameter's metadata: {prop}, {entity}
    container_uri: str  # the linked master's parameters
    container_sas_token: str
    commit: str  # the publish commit's message: {stamp}, {commit}

    def secure_metadata(self, prop: str, entity: str) -> str:
        return self.secure.format(prop=prop, entity=entity)


TEXTS: dict[str, Texts] = {
    "en": Texts(
        factory_name="Data Factory name",
        secure="Secure string for '{prop}' of '{entity}'",
        container_uri="URI to storage account containing linked ARM templates",
        container_sas_token="Sas token to storage account containing linked ARM templates",
        commit="ARM template and parameters deployed on {stamp}, "
        "based on the collaboration branch's commit ID: {commit}",
    ),
    "ja": Texts(
        factory_name="データ ファクトリ名",
        secure="'{entity}' の '{prop}' のセキュリティで保護された文字列",
        container_uri="リンクされた ARM テンプレートを含むストレージ アカウントの URI",
        container_sas_token="リンクされた ARM テンプレートを格納するストレージ アカウントへの SAS トークン",
        commit="コラボレーション ブランチのコミット ID に基づいて、{stamp} "
        "上に配置される ARM テンプレートとパラメーター: {commit}",
    ),
}
LANGUAGES = tuple(TEXTS)
