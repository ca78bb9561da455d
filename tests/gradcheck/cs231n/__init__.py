"""A CS231n assignment-2 package as students have it (``layers.py``, ``layer_utils.py``, ``classifiers/``),
written for the gradient doctor's tests: relative imports, layer functions returning ``(out, cache)``, models
filling ``self.params`` layer by layer. Plain NumPy, no handgrad inside. Known mistakes are planted by name
(``bugs=``) so that each verdict can be checked against what was put in."""
