//! Applications: the owner of a bot user.

use serde::{Deserialize, Serialize};

use crate::id::{ApplicationMarker, Id};
use crate::user::User;

/// `GET /oauth2/applications/@me`, with the fields discord.py reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: Id<ApplicationMarker>,
    pub name: String,
    pub icon: Option<String>,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: Option<u8>,
    pub bot: User,
    pub owner: User,
    pub team: Option<serde_json::Value>,
    pub bot_public: bool,
    pub bot_require_code_grant: bool,
    pub verify_key: String,
    pub flags: u64,
    pub flags_new: String,
    pub redirect_uris: Vec<String>,
    pub rpc_origins: Vec<String>,
    pub interactions_endpoint_url: Option<String>,
    pub role_connections_verification_url: Option<String>,
    pub approximate_guild_count: u32,
    pub approximate_user_install_count: u32,
    pub approximate_user_authorization_count: u32,
    pub explicit_content_filter: u8,
    pub eligible_oauth2_scopes: Vec<String>,
    pub summary: String,
    pub tags: Vec<String>,
}

/// `POST /applications` and `POST /applications/{id}/bot/reset` answer with
/// the application and, once, the bot's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApplication {
    #[serde(flatten)]
    pub application: Application,
    pub token: String,
}
