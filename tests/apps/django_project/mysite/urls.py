from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("async", views.async_index),
    path("boom", views.boom),
    path("async-boom", views.async_boom),
    path("stream", views.stream),
    path("health", views.health),
]
