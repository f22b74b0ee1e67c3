from __future__ import annotations

from django import forms

from secondhand_site.photos import MultiplePhotoField


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Type your password to confirm. This cannot be undone.",
    )

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Nothing was deleted.")
        return password


# --- Catalog -------------------------------------------------------------------------

SORTS = {
    "newest": ("Newest first", ["-created_at", "-pk"]),
    "price": ("Price: low to high", ["price", "pk"]),
    "-price": ("Price: high to low", ["-price", "-pk"]),
    "name": ("Name A–Z", ["name", "pk"]),
}
STATUS_FILTERS = {
    "": "Any (not sold)",
    "available": "Available only",
    "booked": "Booked",
    "sold": "Sold",
}


class CatalogFilterForm(forms.Form):
    """The catalog's search, filters and sort. Bad values are reported and ignored."""

    q = forms.CharField(label="Search", required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": "Search items…",
                                                      "autocomplete": "off"}))
    category = forms.ChoiceField(label="Category", required=False)
    condition = forms.ChoiceField(label="Condition", required=False)
    min_price = forms.DecimalField(label="Min price", required=False, min_value=0,
                                   max_digits=10, decimal_places=2,
                                   widget=forms.NumberInput(attrs={"step": "any", "min": "0",
                                                                   "inputmode": "decimal"}))
    max_price = forms.DecimalField(label="Max price", required=False, min_value=0,
                                   max_digits=10, decimal_places=2,
                                   widget=forms.NumberInput(attrs={"step": "any", "min": "0",
                                                                   "inputmode": "decimal"}))
    status = forms.ChoiceField(label="Status", required=False,
                               choices=list(STATUS_FILTERS.items()))
    sort = forms.ChoiceField(label="Sort", required=False,
                             choices=[(k, v[0]) for k, v in SORTS.items()])

    def __init__(self, *args, **kwargs) -> None:
        from secondhand_site.models import Category, Condition

        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "All categories"), *Category.choices]
        self.fields["condition"].choices = [("", "Any condition"), *Condition.choices]

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The max price is below the min price.")
        return data

    def value(self, name: str):
        """The cleaned value of a field, or None when it was missing or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) if name not in self.errors else None

    @property
    def is_filtered(self) -> bool:
        return any(self.value(n) not in (None, "") for n in
                   ("q", "category", "condition", "min_price", "max_price", "status"))


# --- The owner's item forms ---------------------------------------------------------------


class ItemForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        from secondhand_site.models import Item

        model = Item
        fields = ["name", "description", "price", "category", "condition"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "price": forms.NumberInput(attrs={"step": "0.01", "min": "0",
                                              "inputmode": "decimal"}),
        }
        help_texts = {"price": "In the site's currency, two decimals at most."}

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["version"] = self.instance.version


class NewItemForm(ItemForm):
    photos = MultiplePhotoField(
        label="Photos", required=False,
        help_text="JPEG, PNG or WebP. Choose several at once; the first is the cover.")


class AddPhotosForm(forms.Form):
    photos = MultiplePhotoField(label="Add photos", required=True)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
