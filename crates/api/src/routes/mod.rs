//! One module per resource; this file is the map of every route.

mod applications;
mod attachments;
mod audit_log;
mod auth;
mod automod;
mod channels;
mod commands;
mod expressions;
mod gateway;
mod guilds;
mod interactions;
mod invites;
mod members;
mod messages;
mod mfa;
mod read_states;
mod relationships;
mod roles;
mod search;
mod sessions;
mod settings;
mod users;
mod voice;
mod webhook_formats;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use crate::{ApiConfig, ApiState};

pub fn router(config: &ApiConfig) -> Router<ApiState> {
    // An avatar travels base64-encoded in the profile's JSON: room for the
    // largest one allowed, whatever the general body limit.
    let profile_body = config.max_body_bytes.max(config.avatar_max_bytes / 3 * 4 + 64 * 1024);
    Router::new()
        // accounts
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/mfa/totp", post(auth::login_totp))
        .route("/auth/sessions", get(sessions::list))
        .route("/auth/sessions/logout", post(sessions::logout))
        // gateway
        .route("/gateway", get(gateway::gateway))
        .route("/gateway/bot", get(gateway::gateway_bot))
        // users
        .route("/users/@me", get(users::me).patch(users::update_me).layer(DefaultBodyLimit::max(profile_body)))
        .route("/users/@me/settings", get(settings::get).patch(settings::update))
        .route("/users/@me/mfa/totp/enable", post(mfa::enable_totp))
        .route("/users/@me/mfa/totp/disable", post(mfa::disable_totp))
        .route("/users/@me/mfa/codes", post(mfa::backup_codes))
        .route("/users/@me/guilds", get(users::my_guilds))
        .route("/users/@me/guilds/{guild_id}", delete(users::leave_guild))
        .route("/users/@me/channels", get(users::dm_channels).post(users::open_dm))
        .route("/users/@me/relationships", get(relationships::list).post(relationships::post))
        .route("/users/@me/relationships/{user_id}", put(relationships::put).delete(relationships::delete))
        .route("/users/{user_id}", get(users::user))
        // applications and bots
        .route("/applications", post(applications::create))
        .route("/applications/@me", get(applications::me).patch(applications::update_me))
        .route("/applications/{application_id}", patch(applications::update))
        .route("/applications/{application_id}/bot/reset", post(applications::reset_token))
        // application commands
        .route(
            "/applications/{application_id}/commands",
            get(commands::list).post(commands::create).put(commands::overwrite),
        )
        .route(
            "/applications/{application_id}/commands/{command_id}",
            get(commands::get).patch(commands::update).delete(commands::delete),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands",
            get(commands::list_guild).post(commands::create_guild).put(commands::overwrite_guild),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
            get(commands::guild_permissions),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            get(commands::get_guild).patch(commands::update_guild).delete(commands::delete_guild),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions",
            get(commands::command_permissions),
        )
        .route("/oauth2/applications/@me", get(applications::me))
        .route("/oauth2/authorize", post(applications::authorize))
        // guilds
        .route("/guilds", post(guilds::create))
        .route("/guilds/{guild_id}", get(guilds::get).patch(guilds::update).delete(guilds::delete))
        .route(
            "/guilds/{guild_id}/channels",
            get(guilds::channels).post(guilds::create_channel).patch(guilds::reorder_channels),
        )
        .route("/guilds/{guild_id}/members", get(guilds::members))
        .route("/guilds/{guild_id}/members/search", get(members::search))
        .route("/guilds/{guild_id}/members/@me", patch(members::update_me))
        .route("/guilds/{guild_id}/members/{user_id}", get(guilds::member).patch(members::update).delete(members::kick))
        .route("/guilds/{guild_id}/members/{user_id}/roles/{role_id}", put(roles::give).delete(roles::take))
        .route("/guilds/{guild_id}/roles", get(roles::list).post(roles::create).patch(roles::reorder))
        .route("/guilds/{guild_id}/roles/{role_id}", get(roles::get).patch(roles::update).delete(roles::delete))
        .route("/guilds/{guild_id}/bans", get(members::bans))
        .route("/guilds/{guild_id}/bans/{user_id}", get(members::ban).put(members::put_ban).delete(members::remove_ban))
        .route("/guilds/{guild_id}/bulk-ban", post(members::bulk_ban))
        .route("/guilds/{guild_id}/regions", get(voice::guild_regions))
        .route("/guilds/{guild_id}/voice-states/{user_id}", get(voice::state))
        .route("/voice/regions", get(voice::regions))
        .route("/guilds/{guild_id}/audit-logs", get(audit_log::list))
        .route("/guilds/{guild_id}/auto-moderation/rules", get(automod::list).post(automod::create))
        .route(
            "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
            get(automod::get).patch(automod::update).delete(automod::delete),
        )
        .route("/guilds/{guild_id}/emojis", get(expressions::list_emojis).post(expressions::create_emoji))
        .route(
            "/guilds/{guild_id}/emojis/{emoji_id}",
            get(expressions::get_emoji).patch(expressions::update_emoji).delete(expressions::delete_emoji),
        )
        .route("/guilds/{guild_id}/stickers", get(expressions::list_stickers).post(expressions::create_sticker))
        .route(
            "/guilds/{guild_id}/stickers/{sticker_id}",
            get(expressions::get_guild_sticker).patch(expressions::update_sticker).delete(expressions::delete_sticker),
        )
        .route("/stickers/{sticker_id}", get(expressions::get_sticker))
        .route("/guilds/{guild_id}/messages/search", get(search::guild))
        .route("/guilds/{guild_id}/invites", get(invites::guild_invites))
        // channels
        .route("/channels/{channel_id}", get(channels::get).patch(channels::update).delete(channels::delete))
        .route("/channels/{channel_id}/typing", post(channels::typing))
        .route(
            "/channels/{channel_id}/permissions/{overwrite_id}",
            put(channels::put_overwrite).delete(channels::delete_overwrite),
        )
        .route("/channels/{channel_id}/invites", get(invites::channel_invites).post(invites::create))
        // interactions
        .route("/interactions", post(interactions::create))
        .route("/channels/{channel_id}/application-command-index", get(interactions::index))
        .route("/interactions/{interaction_id}/{interaction_token}/callback", post(interactions::callback))
        // webhooks
        .route("/channels/{channel_id}/webhooks", get(webhooks::channel_webhooks).post(webhooks::create))
        .route("/guilds/{guild_id}/webhooks", get(webhooks::guild_webhooks))
        .route("/webhooks/{webhook_id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::delete))
        .route(
            "/webhooks/{webhook_id}/{webhook_token}",
            get(webhooks::get_with_token)
                .patch(webhooks::update_with_token)
                .delete(webhooks::delete_with_token)
                .post(webhooks::execute),
        )
        .route("/webhooks/{webhook_id}/{webhook_token}/github", post(webhooks::github))
        .route("/webhooks/{webhook_id}/{webhook_token}/slack", post(webhooks::slack))
        .route(
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            get(webhooks::get_message).patch(webhooks::update_message).delete(webhooks::delete_message),
        )
        // invites
        .route("/invites/{code}", get(invites::get).post(invites::join).delete(invites::delete))
        // messages
        .route("/channels/{channel_id}/messages", get(messages::list).post(messages::create))
        .route("/channels/{channel_id}/attachments", post(attachments::create))
        .route("/attachments/refresh-urls", post(attachments::refresh_urls))
        .route("/channels/{channel_id}/messages/bulk-delete", post(messages::bulk_delete))
        .route("/channels/{channel_id}/messages/pins", get(messages::pins_paged))
        .route("/channels/{channel_id}/messages/search", get(search::channel))
        .route("/channels/{channel_id}/messages/pins/{message_id}", put(messages::pin).delete(messages::unpin))
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            get(messages::get).patch(messages::update).delete(messages::delete),
        )
        .route("/channels/{channel_id}/messages/{message_id}/ack", post(read_states::ack))
        .route("/channels/{channel_id}/messages/{message_id}/reactions", delete(messages::clear_reactions))
        .route(
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
            get(messages::reactors).delete(messages::clear_emoji),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
            put(messages::react).delete(messages::unreact),
        )
        .route("/channels/{channel_id}/pins", get(messages::pins))
        .route("/channels/{channel_id}/pins/{message_id}", put(messages::pin).delete(messages::unpin))
}

/// Every handler `router` mounts, for `/api/openapi.json`: each one's
/// `#[utoipa::path]` annotation describes its operation (`openapi.rs` adds
/// what all share). `tests/openapi.rs` holds the document and `router` to
/// each other both ways, so a handler missing here fails it.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
        // accounts
        auth::register, auth::login, auth::logout, auth::login_totp, sessions::list, sessions::logout,
        // gateway
        gateway::gateway, gateway::gateway_bot,
        // users
        users::me, users::update_me, settings::get, settings::update, mfa::enable_totp, mfa::disable_totp,
        mfa::backup_codes, users::my_guilds, users::leave_guild, users::dm_channels, users::open_dm,
        relationships::list, relationships::post, relationships::put, relationships::delete, users::user,
        // applications and bots
        applications::create, applications::me, applications::update_me, applications::update,
        applications::reset_token, applications::authorize,
        // application commands
        commands::list, commands::create, commands::overwrite, commands::get, commands::update, commands::delete,
        commands::list_guild, commands::create_guild, commands::overwrite_guild, commands::get_guild,
        commands::update_guild, commands::delete_guild, commands::guild_permissions, commands::command_permissions,
        // guilds
        guilds::create, guilds::get, guilds::update, guilds::delete, guilds::channels, guilds::create_channel,
        guilds::reorder_channels, guilds::members, members::search, members::update_me, guilds::member, members::update,
        members::kick, roles::give, roles::take, roles::list, roles::create, roles::reorder, roles::get, roles::update,
        roles::delete, members::bans, members::ban, members::put_ban, members::remove_ban, members::bulk_ban,
        audit_log::list, automod::list, automod::create, automod::get, automod::update, automod::delete, search::guild,
        invites::guild_invites,
        // emojis and stickers
        expressions::list_emojis, expressions::create_emoji, expressions::get_emoji, expressions::update_emoji,
        expressions::delete_emoji, expressions::list_stickers, expressions::create_sticker,
        expressions::get_guild_sticker, expressions::update_sticker, expressions::delete_sticker,
        expressions::get_sticker,
        // voice
        voice::regions, voice::guild_regions, voice::state,
        // channels
        channels::get, channels::update, channels::delete, channels::typing, channels::put_overwrite,
        channels::delete_overwrite, invites::channel_invites, invites::create,
        // interactions
        interactions::create, interactions::callback, interactions::index,
        // webhooks
        webhooks::create, webhooks::channel_webhooks, webhooks::guild_webhooks, webhooks::get, webhooks::update,
        webhooks::delete, webhooks::get_with_token, webhooks::update_with_token, webhooks::delete_with_token,
        webhooks::execute, webhooks::github, webhooks::slack, webhooks::get_message, webhooks::update_message,
        webhooks::delete_message,
        // invites
        invites::get, invites::join, invites::delete,
        // messages
        messages::list, messages::create, attachments::create, attachments::refresh_urls, messages::bulk_delete, messages::pins_paged, search::channel, messages::pin,
        messages::unpin, messages::get, messages::update, messages::delete, read_states::ack, messages::clear_reactions,
        messages::reactors, messages::clear_emoji, messages::react, messages::unreact, messages::pins,
))]
pub(crate) struct Documented;
