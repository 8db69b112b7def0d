"""The five category strategies, one per `quel_production_path`."""

from __future__ import annotations

from domain.generation.categories.beauty import BEAUTY
from domain.generation.categories.cartoon import CARTOON
from domain.generation.categories.cinema import CINEMA
from domain.generation.categories.eats import EATS
from domain.generation.categories.fashion import FASHION
from domain.generation.categories.strategy import CategoryStrategy
from domain.plan import Category

STRATEGIES: dict[Category, CategoryStrategy] = {
    strategy.category: strategy for strategy in (FASHION, BEAUTY, EATS, CINEMA, CARTOON)
}


def strategy_for(category: Category) -> CategoryStrategy:
    return STRATEGIES[category]


__all__ = ["STRATEGIES", "CategoryStrategy", "strategy_for"]
