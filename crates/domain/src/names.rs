//! What makes a name acceptable beyond its length: usernames, display
//! names, nicknames, and guild, role, channel and application names must
//! show something, and a username must not pass for someone else.

use crate::error::FormErrors;

/// Whether a reader sees nothing of `c`: whitespace, controls, and the
/// zero-width, filler and format characters that render as nothing (soft
/// hyphen, joiners, bidirectional marks, variation selectors, the Hangul
/// fillers, the braille blank, tags).
pub fn invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c as u32,
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F
                | 0x1160
                | 0x17B4
                | 0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x2028..=0x202F
                | 0x205F..=0x206F
                | 0x2800
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF0..=0xFFFB
                | 0x1BCA0..=0x1BCA3
                | 0x1D159
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// Characters that reorder the text around them: a name or reason holding
/// them can show something other than what it says.
pub fn bidi_control(c: char) -> bool {
    matches!(c as u32, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Refuses a name made only of characters nobody can see.
pub fn check_visible(errors: &mut FormErrors, field: &str, name: &str) {
    if !name.is_empty() && name.chars().all(invisible) {
        errors.add(field, "NAME_INVISIBLE", "Must contain at least one visible character.");
    }
}

/// Discord's rules for usernames on top of their character set: none is
/// `everyone` or `here` (which read as mass mentions) or `system`, and none
/// contains `discord` or `clyde` (which read as Discord's own accounts).
pub fn check_username_words(errors: &mut FormErrors, field: &str, name: &str) {
    let lower = name.to_lowercase();
    if matches!(lower.as_str(), "everyone" | "here" | "system") {
        errors.add(field, "USERNAME_INVALID", format!("Username cannot be \"{lower}\"."));
    } else if let Some(word) = ["discord", "clyde"].into_iter().find(|w| lower.contains(w)) {
        errors.add(field, "USERNAME_INVALID_CONTAINS", format!("Username cannot contain \"{word}\"."));
    }
}

/// Usernames as Discord has had them since 2023: 2–32 of `a-z 0-9 _ .`,
/// no `..`. Upper case is folded rather than refused.
pub fn check_username(errors: &mut FormErrors, field: &str, raw: &str) -> String {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(2..=32).contains(&len) {
        errors.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.");
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        || name.contains("..")
    {
        errors.add(
            field,
            "USERNAME_INVALID_CHARACTERS",
            "Username can only contain letters, numbers, underscores and periods, and no two periods in a row.",
        );
    } else {
        check_username_words(errors, field, &name);
    }
    name
}

pub fn check_display_name(errors: &mut FormErrors, field: &str, raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() {
        return None;
    }
    if name.chars().count() > 32 {
        errors.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
    }
    check_visible(errors, field, name);
    Some(name.to_owned())
}
