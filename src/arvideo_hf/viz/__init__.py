"""Every figure the project draws, headless (Agg canvas, never pyplot): next-cluster predictions, prediction orders,
attention rank per layer (`figures`), and the training and result plots that runs and reports write (`reports`)."""

from .figures import *  # noqa: F403 - the figures' public names, listed in figures.__all__
from .figures import __all__ as _figures_all
from .reports import plot_confusion_matrix, plot_loss_curve, plot_study_results


__all__ = [*_figures_all, "plot_confusion_matrix", "plot_loss_curve", "plot_study_results"]
