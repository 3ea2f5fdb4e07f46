//! The admin lists an admin downloads (`http::download`): the users and the audit log,
//! one row per entry, as their JSON pages (the next page in `Link`). The login-attempt
//! report is not among them: its whole-range summary is not a table.

use std::borrow::Cow;

use crate::http::download::{Cell, ToCsv};

use super::admin::{AuditEntryList, UserList};

impl ToCsv for UserList {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id",
            "email",
            "role",
            "disabled",
            "invited",
            "mfa_enabled",
            "created_at",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        self.data
            .iter()
            .map(|u| {
                vec![
                    Cell::text(u.id.as_str()),
                    Cell::text(&u.email),
                    Cell::text(u.role.as_str()),
                    Cell::Bool(u.disabled),
                    Cell::Bool(u.invited),
                    Cell::Bool(u.mfa_enabled),
                    Cell::Time(u.created_at),
                ]
            })
            .collect()
    }

    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}

impl ToCsv for AuditEntryList {
    fn header(&self) -> Vec<&'static str> {
        vec!["at", "actor", "action", "target", "ip", "operator_id"]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        self.data
            .iter()
            .map(|e| {
                vec![
                    Cell::Time(e.at),
                    Cell::opt_text(e.actor.as_ref().map(|a| a.as_str())),
                    Cell::text(&e.action),
                    Cell::opt_text(e.target.as_deref()),
                    e.ip.map_or(Cell::Empty, |ip| Cell::Text(Cow::Owned(ip.to_string()))),
                    Cell::opt_text(e.operator_id.as_ref().map(|o| o.as_str())),
                ]
            })
            .collect()
    }

    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}
