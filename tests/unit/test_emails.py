"""Local mail: each message saved as a file in the data folder, announced on the console."""

from __future__ import annotations

import email
from email import policy

import pytest
from django.core.mail import EmailMessage, send_mail

from secondhand_site.emails import FolderEmailBackend


@pytest.fixture
def mail_folder(settings, tmp_path):
    folder = tmp_path / "saved-mail"
    settings.MAILERS = {"default": {
        "BACKEND": "secondhand_site.emails.FolderEmailBackend",
        "OPTIONS": {"folder": str(folder)},
    }}
    return folder


def saved(folder) -> list:
    return sorted(folder.glob("*.eml"))


def test_each_message_is_saved_as_one_file_and_announced_with_its_link(mail_folder, capsys):
    sent = send_mail("Confirm your address", "Go to https://shop.example.com/confirm/abc/ now.",
                     None, ["dora@example.com"])

    files = saved(mail_folder)
    assert sent == 1
    assert len(files) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert str(files[0]) in lines[0]
    assert "dora@example.com" in lines[0]
    assert "https://shop.example.com/confirm/abc/" in lines[0]


def test_the_saved_file_is_the_whole_message(mail_folder):
    send_mail("Your booking", "Pick it up on Friday.", "Shop <shop@example.com>",
              ["dora@example.com"])

    message = email.message_from_bytes(saved(mail_folder)[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Your booking"
    assert message["To"] == "dora@example.com"
    assert message["From"] == "Shop <shop@example.com>"
    assert "Pick it up on Friday." in message.get_content()


def test_only_the_first_link_is_announced(mail_folder, capsys):
    send_mail("Two links", "First http://a.example.com/one then http://b.example.com/two",
              None, ["dora@example.com"])

    line = capsys.readouterr().err
    assert "http://a.example.com/one" in line
    assert "b.example.com" not in line


def test_a_message_without_a_link_is_announced_without_one(mail_folder, capsys):
    send_mail("Hello", "No links here.", None, ["dora@example.com"])

    line = capsys.readouterr().err
    assert "saved to" in line
    assert "(link:" not in line


def test_several_messages_at_once_make_as_many_files_and_lines(tmp_path, capsys):
    backend = FolderEmailBackend(folder=str(tmp_path / "out"))
    messages = [EmailMessage(f"Message {n}", f"Body {n}", None, ["same@example.com"])
                for n in range(3)]

    assert backend.send_messages(messages) == 3

    files = saved(tmp_path / "out")
    assert len(files) == 3
    assert len({f.name for f in files}) == 3
    assert len(capsys.readouterr().err.splitlines()) == 3
    bodies = sorted(f.read_text() for f in files)
    assert all(f"Body {n}" in body for n, body in enumerate(bodies))


def test_nothing_to_send_writes_nothing(tmp_path, capsys):
    backend = FolderEmailBackend(folder=str(tmp_path / "out"))

    assert backend.send_messages([]) == 0
    assert not (tmp_path / "out").exists()
    assert capsys.readouterr().err == ""


def test_without_a_folder_option_mail_goes_to_the_data_folder(settings, tmp_path, capsys):
    settings.MAIL_DIR = tmp_path / "data" / "mail"
    settings.MAILERS = {"default": {"BACKEND": "secondhand_site.emails.FolderEmailBackend"}}

    send_mail("Hello", "Body", None, ["dora@example.com"])

    assert len(saved(tmp_path / "data" / "mail")) == 1


def test_a_signup_verification_link_can_be_followed_from_the_console(client, db, mail_folder,
                                                                     capsys):
    client.post("/accounts/signup/", {
        "email": "dora@example.com", "password1": "a-much-newer-secret-42",
        "password2": "a-much-newer-secret-42",
    })

    line = capsys.readouterr().err
    assert "dora@example.com" in line
    assert "(link: http://testserver/accounts/confirm-email/" in line
    assert len(saved(mail_folder)) == 1
