//! Application commands through the HTTP API: global and guild commands
//! created, read, changed, overwritten in bulk and deleted by the
//! application's bot; Discord's upsert by name, versions, localizations,
//! limits; every validation rule answered as Discord's 50035 with the error
//! at its field path; who may call (another application, a person, a bot
//! outside the guild); malformed bodies and ids.

use crate::common;

use common::{assert_error, TestApp, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct World {
    owner: TestUser,
    bot: TestUser,
    other_bot: TestUser,
    guild: String,
    /// A guild the bot is not in.
    foreign: String,
}

async fn world(app: &TestApp) -> World {
    let owner = app.register("owner").await;
    let bot = app.bot(&owner, "Commander", false).await;
    let other_bot = app.bot(&owner, "Other", false).await;
    let (guild, _) = app.guild(&owner, "commands").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.add_bot(&owner, &bot, &guild).await;
    let (foreign, _) = app.guild(&owner, "foreign").await;
    let foreign = foreign["id"].as_str().unwrap().to_owned();
    World { owner, bot, other_bot, guild, foreign }
}

fn global(w: &World) -> String {
    format!("/applications/{}/commands", w.bot.id)
}

fn in_guild(w: &World) -> String {
    format!("/applications/{}/guilds/{}/commands", w.bot.id, w.guild)
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

/// A slash command with every kind of option a bot commonly sends.
fn ping() -> Value {
    json!({
        "name": "ping",
        "description": "Checks the bot",
        "name_localizations": {"fr": "sonde", "de": "ping"},
        "description_localizations": {"fr": "Vérifie le bot"},
        "options": [
            {"type": 3, "name": "mode", "description": "How", "required": true,
             "choices": [{"name": "Fast", "value": "fast", "name_localizations": {"fr": "Vite"}},
                         {"name": "Slow", "value": "slow"}]},
            {"type": 4, "name": "count", "description": "How many", "min_value": 1, "max_value": 10},
            {"type": 10, "name": "ratio", "description": "A ratio", "min_value": 0.5, "autocomplete": true},
            {"type": 3, "name": "note", "description": "A note", "min_length": 2, "max_length": 200},
            {"type": 7, "name": "where", "description": "A channel", "channel_types": [0, 2]},
            {"type": 6, "name": "who", "description": "Someone"},
            {"type": 11, "name": "file", "description": "A file"}
        ],
        "default_member_permissions": "8",
        "dm_permission": false,
        "contexts": [0],
        "integration_types": [0],
        "nsfw": true
    })
}

/// The field errors of a 50035 answer at `path` (`options.0.name`): their codes.
#[track_caller]
fn error_codes(result: &(StatusCode, Value), path: &str) -> Vec<String> {
    assert_error(result, 400, 50035);
    let mut node = &result.1["errors"];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        node = &node[part];
    }
    let codes: Vec<String> =
        node["_errors"].as_array().into_iter().flatten().map(|e| e["code"].as_str().unwrap().to_owned()).collect();
    assert!(!codes.is_empty(), "no error at {path}: {}", result.1);
    codes
}

#[tokio::test]
async fn a_global_command_is_created_read_changed_and_deleted_by_its_bot() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    let (status, created) = app.post(&global(&w), &w.bot.token, ping()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["type"], 1);
    assert_eq!(created["application_id"], json!(w.bot.id));
    assert!(created.get("guild_id").is_none(), "a global command has no guild_id: {created}");
    assert_eq!(created["name"], "ping");
    assert_eq!(created["name_localizations"], json!({"de": "ping", "fr": "sonde"}));
    assert_eq!(created["description_localizations"], json!({"fr": "Vérifie le bot"}));
    assert_eq!(created["default_member_permissions"], "8");
    assert_eq!(created["dm_permission"], false);
    assert_eq!(created["contexts"], json!([0]));
    assert_eq!(created["integration_types"], json!([0]));
    assert_eq!(created["nsfw"], true);
    assert!(created["version"].as_str().is_some_and(|v| v.parse::<u64>().is_ok()), "{created}");
    let options = created["options"].as_array().unwrap();
    assert_eq!(options.len(), 7);
    assert_eq!(options[0]["required"], true);
    assert_eq!(
        options[0]["choices"][0],
        json!({"name": "Fast", "value": "fast", "name_localizations": {"fr": "Vite"}})
    );
    assert_eq!(options[1]["min_value"], 1);
    assert_eq!(options[1]["max_value"], 10);
    assert!(options[1].get("required").is_none(), "only required options say so: {}", options[1]);
    assert_eq!(options[2]["min_value"], 0.5);
    assert_eq!(options[2]["autocomplete"], true);
    assert_eq!((options[3]["min_length"].clone(), options[3]["max_length"].clone()), (json!(2), json!(200)));
    assert_eq!(options[4]["channel_types"], json!([0, 2]));
    assert_eq!(options[6]["type"], 11);

    // Read back, alone and in the list.
    let (status, got) = app.get(&format!("{}/{id}", global(&w)), &w.bot.token).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got, created);
    let (_, list) = app.get(&format!("{}?with_localizations=true", global(&w)), &w.bot.token).await;
    assert_eq!(list, json!([created.clone()]));
    // Without with_localizations, a list leaves the maps out, options' too.
    let (_, bare) = app.get(&global(&w), &w.bot.token).await;
    assert!(bare[0].get("name_localizations").is_none(), "{bare}");
    assert!(bare[0]["options"][0].get("name_localizations").is_none(), "{bare}");
    assert!(bare[0]["options"][0]["choices"][0].get("name_localizations").is_none(), "{bare}");
    assert_eq!(bare[0]["options"][0]["choices"][0]["value"], "fast");
    // discord.py asks with 1 and 0.
    let (_, one) = app.get(&format!("{}?with_localizations=1", global(&w)), &w.bot.token).await;
    assert_eq!(one, list);
    let bad = app.get(&format!("{}?with_localizations=maybe", global(&w)), &w.bot.token).await;
    error_codes(&bad, "with_localizations");
    // The guild's list is apart.
    let (_, guild_list) = app.get(&in_guild(&w), &w.bot.token).await;
    assert_eq!(guild_list, json!([]));

    // A PATCH changes what it names, keeps the rest and the id, and
    // gives a new version.
    let (status, edited) = app
        .patch(
            &format!("{}/{id}", global(&w)),
            &w.bot.token,
            json!({"description": "Pings", "default_member_permissions": null, "name_localizations": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["id"], json!(id));
    assert_eq!(edited["description"], "Pings");
    assert_eq!(edited["default_member_permissions"], Value::Null);
    assert_eq!(edited["name_localizations"], Value::Null);
    assert_eq!(edited["options"], created["options"]);
    assert_eq!(edited["nsfw"], true);
    assert_ne!(edited["version"], created["version"]);
    // A PATCH is checked like a create.
    let bad = app.patch(&format!("{}/{id}", global(&w)), &w.bot.token, json!({"name": "Has Caps"})).await;
    assert_eq!(error_codes(&bad, "name"), ["APPLICATION_COMMAND_INVALID_NAME"]);
    let bad =
        app.patch(&format!("{}/{id}", global(&w)), &w.bot.token, json!({"options": [{"type": 3, "name": "x"}]})).await;
    error_codes(&bad, "options.0.description");
    let (_, unchanged) = app.get(&format!("{}/{id}", global(&w)), &w.bot.token).await;
    assert_eq!(unchanged, edited, "a refused PATCH changes nothing");

    // POST with a taken name overwrites that command (200, same id).
    let (status, upserted) = app.post(&global(&w), &w.bot.token, json!({"name": "ping", "description": "Again"})).await;
    assert_eq!(status, StatusCode::OK, "{upserted}");
    assert_eq!(upserted["id"], json!(id));
    assert_eq!(upserted["options"], json!([]));
    assert_eq!(upserted["dm_permission"], true);
    let (_, list) = app.get(&global(&w), &w.bot.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // A rename onto another command's name is refused.
    let (_, other) = app.post(&global(&w), &w.bot.token, json!({"name": "pong", "description": "Pong"})).await;
    let other_id = other["id"].as_str().unwrap();
    let taken = app.patch(&format!("{}/{other_id}", global(&w)), &w.bot.token, json!({"name": "ping"})).await;
    assert_eq!(error_codes(&taken, "name"), ["APPLICATION_COMMAND_ALREADY_EXISTS"]);

    // Deleted: gone from reads, a second delete is 10063.
    let (status, _) = app.delete(&format!("{}/{id}", global(&w)), &w.bot.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("{}/{id}", global(&w)), &w.bot.token).await, 404, 10063);
    assert_error(&app.delete(&format!("{}/{id}", global(&w)), &w.bot.token).await, 404, 10063);
    assert_error(&app.patch(&format!("{}/{id}", global(&w)), &w.bot.token, json!({})).await, 404, 10063);
    let (_, list) = app.get(&global(&w), &w.bot.token).await;
    assert_eq!(list.as_array().unwrap().iter().map(|c| c["name"].clone()).collect::<Vec<_>>(), [json!("pong")]);
}

#[tokio::test]
async fn context_menu_commands_take_free_names_and_no_description() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (status, user) =
        app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": "Get Info", "description": ""})).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        (user["type"].clone(), user["name"].clone(), user["description"].clone()),
        (json!(2), json!("Get Info"), json!(""))
    );
    assert_eq!(user["guild_id"], json!(w.guild));
    assert!(user.get("dm_permission").is_none(), "guild commands have no DM setting: {user}");
    // The same name as a message command is another command.
    let (status, message) = app.post(&in_guild(&w), &w.bot.token, json!({"type": 3, "name": "Get Info"})).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_ne!(message["id"], user["id"]);

    let bad = app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": "Info", "description": "no"})).await;
    error_codes(&bad, "description");
    let bad = app
        .post(
            &in_guild(&w),
            &w.bot.token,
            json!({"type": 3, "name": "Info", "options": [{"type": 3, "name": "a", "description": "b"}]}),
        )
        .await;
    error_codes(&bad, "options");
    let bad = app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": "x".repeat(33)})).await;
    assert_eq!(error_codes(&bad, "name"), ["BASE_TYPE_BAD_LENGTH"]);
    let bad = app.post(&in_guild(&w), &w.bot.token, json!({"type": 4, "name": "launch"})).await;
    assert_eq!(error_codes(&bad, "type"), ["BASE_TYPE_CHOICES"]);

    // Five of each context-menu type per scope.
    for i in 2..=5 {
        let (status, c) = app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": format!("User {i}")})).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
    }
    let sixth = app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": "User 6"})).await;
    assert_error(&sixth, 400, 30032);
    // Overwriting one of the five is not a sixth.
    let (status, _) = app.post(&in_guild(&w), &w.bot.token, json!({"type": 2, "name": "User 5"})).await;
    assert_eq!(status, StatusCode::OK);
    // Globally the count starts again.
    let (status, _) = app.post(&global(&w), &w.bot.token, json!({"type": 2, "name": "User 6"})).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_hundred_slash_commands_fit_and_the_next_does_not() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let many: Vec<Value> = (0..100).map(|i| json!({"name": format!("c{i}"), "description": "d"})).collect();
    let (status, all) = put(&app, &global(&w), &w.bot.token, json!(many)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 100);
    assert_error(&app.post(&global(&w), &w.bot.token, json!({"name": "c100", "description": "d"})).await, 400, 30032);
    let mut too_many = many.clone();
    too_many.push(json!({"name": "c100", "description": "d"}));
    assert_error(&put(&app, &global(&w), &w.bot.token, json!(too_many)).await, 400, 30032);
    let (_, list) = app.get(&format!("{}?with_localizations=true", global(&w)), &w.bot.token).await;
    assert!(list == all, "a refused overwrite changes nothing");
}

#[tokio::test]
async fn a_bulk_overwrite_keeps_known_commands_adds_new_ones_and_drops_the_rest() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let path = in_guild(&w);
    let (status, first) = put(
        &app,
        &path,
        &w.bot.token,
        json!([
            {"name": "alpha", "description": "A"},
            {"name": "beta", "description": "B"},
            {"type": 3, "name": "Quote"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let first = first.as_array().unwrap().clone();
    assert_eq!(first.len(), 3);
    let id_of = |list: &[Value], name: &str| list.iter().find(|c| c["name"] == name).map(|c| c["id"].clone());

    // alpha unchanged (same id and version), beta changed (same id, new
    // version), Quote dropped, gamma new.
    let (status, second) = put(
        &app,
        &path,
        &w.bot.token,
        json!([
            {"name": "alpha", "description": "A"},
            {"name": "beta", "description": "B, changed"},
            {"name": "gamma", "description": "G"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = second.as_array().unwrap().clone();
    let find = |list: &[Value], name: &str| list.iter().find(|c| c["name"] == name).cloned().unwrap();
    assert_eq!(find(&second, "alpha"), find(&first, "alpha"));
    assert_eq!(id_of(&second, "beta"), id_of(&first, "beta"));
    assert_ne!(find(&second, "beta")["version"], find(&first, "beta")["version"]);
    assert!(id_of(&second, "Quote").is_none());
    assert!(!first.iter().any(|c| Some(c["id"].clone()) == id_of(&second, "gamma")));
    let (_, list) = app.get(&format!("{path}?with_localizations=true"), &w.bot.token).await;
    let mut names: Vec<_> = list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta", "gamma"]);

    // A command named by its id may be renamed in an overwrite.
    let alpha = id_of(&second, "alpha").unwrap();
    let (_, third) = put(&app, &path, &w.bot.token, json!([{"id": alpha, "name": "omega", "description": "O"}])).await;
    assert_eq!(third[0]["id"], alpha);
    assert_eq!(third[0]["name"], "omega");

    // Errors are reported at the item's index; nothing changes.
    let bad = put(
        &app,
        &path,
        &w.bot.token,
        json!([{"name": "fine", "description": "F"}, {"name": "BAD", "description": "B"}, {"name": "fine", "description": "again"}]),
    )
    .await;
    assert_eq!(error_codes(&bad, "1.name"), ["APPLICATION_COMMAND_INVALID_NAME"]);
    assert_eq!(error_codes(&bad, "2.name"), ["APPLICATION_COMMANDS_DUPLICATE_NAME"]);
    let (_, after) = app.get(&format!("{path}?with_localizations=true"), &w.bot.token).await;
    assert_eq!(after, third);
    error_codes(&put(&app, &path, &w.bot.token, json!({"name": "x"})).await, "");

    // An empty list clears the scope.
    let (status, cleared) = put(&app, &path, &w.bot.token, json!([])).await;
    assert_eq!((status, cleared), (StatusCode::OK, json!([])));
    let (_, list) = app.get(&path, &w.bot.token).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn every_rule_is_answered_at_its_field_path() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let path = global(&w);
    let with_option = |option: Value| json!({"name": "cmd", "description": "d", "options": [option]});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"description": "d"}), "name", "BASE_TYPE_REQUIRED"),
        (json!({"name": "", "description": "d"}), "name", "BASE_TYPE_BAD_LENGTH"),
        (json!({"name": "a".repeat(33), "description": "d"}), "name", "BASE_TYPE_BAD_LENGTH"),
        (json!({"name": "two words", "description": "d"}), "name", "APPLICATION_COMMAND_INVALID_NAME"),
        (json!({"name": "Upper", "description": "d"}), "name", "APPLICATION_COMMAND_INVALID_NAME"),
        (json!({"name": "emoji😀", "description": "d"}), "name", "APPLICATION_COMMAND_INVALID_NAME"),
        (json!({"name": 5, "description": "d"}), "name", "BASE_TYPE_STRING"),
        (json!({"name": "cmd"}), "description", "BASE_TYPE_REQUIRED"),
        (json!({"name": "cmd", "description": ""}), "description", "BASE_TYPE_BAD_LENGTH"),
        (json!({"name": "cmd", "description": "d".repeat(101)}), "description", "BASE_TYPE_BAD_LENGTH"),
        (
            json!({"name": "cmd", "description": "d", "name_localizations": {"xx": "a"}}),
            "name_localizations.xx",
            "LOCALE_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "name_localizations": {"fr": "Mauvais Nom"}}),
            "name_localizations.fr",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            json!({"name": "cmd", "description": "d", "description_localizations": {"ja": ""}}),
            "description_localizations.ja",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({"name": "cmd", "description": "d", "name_localizations": []}),
            "name_localizations",
            "DICT_TYPE_CONVERT",
        ),
        (
            json!({"name": "cmd", "description": "d", "default_member_permissions": "lots"}),
            "default_member_permissions",
            "NUMBER_TYPE_COERCE",
        ),
        (json!({"name": "cmd", "description": "d", "dm_permission": "yes"}), "dm_permission", "BASE_TYPE_BOOLEAN"),
        (json!({"name": "cmd", "description": "d", "contexts": [0, 7]}), "contexts.1", "BASE_TYPE_CHOICES"),
        (json!({"name": "cmd", "description": "d", "contexts": []}), "contexts", "BASE_TYPE_MIN_LENGTH"),
        (
            json!({"name": "cmd", "description": "d", "integration_types": [0, 0]}),
            "integration_types.1",
            "SET_TYPE_ALREADY_CONTAINS_VALUE",
        ),
        (json!({"name": "cmd", "description": "d", "options": {}}), "options", "BASE_TYPE_ARRAY"),
        (
            json!({"name": "cmd", "description": "d", "options": (0..26).map(|i| json!({"type": 5, "name": format!("o{i}"), "description": "d"})).collect::<Vec<_>>()}),
            "options",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (with_option(json!("text")), "options.0", "MODEL_TYPE_CONVERT"),
        (with_option(json!({"name": "o", "description": "d"})), "options.0.type", "BASE_TYPE_REQUIRED"),
        (with_option(json!({"type": 12, "name": "o", "description": "d"})), "options.0.type", "BASE_TYPE_CHOICES"),
        (
            with_option(json!({"type": 3, "name": "Bad Name", "description": "d"})),
            "options.0.name",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (with_option(json!({"type": 3, "name": "o"})), "options.0.description", "BASE_TYPE_REQUIRED"),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "required": "yes"})),
            "options.0.required",
            "BASE_TYPE_BOOLEAN",
        ),
        (
            with_option(json!({"type": 5, "name": "o", "description": "d", "choices": [{"name": "a", "value": "a"}]})),
            "options.0.choices",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(
                json!({"type": 3, "name": "o", "description": "d", "choices": (0..26).map(|i| json!({"name": format!("c{i}"), "value": "v"})).collect::<Vec<_>>()}),
            ),
            "options.0.choices",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "choices": [{"name": "a", "value": 1}]})),
            "options.0.choices.0.value",
            "BASE_TYPE_STRING",
        ),
        (
            with_option(json!({"type": 4, "name": "o", "description": "d", "choices": [{"name": "a", "value": 1.5}]})),
            "options.0.choices.0.value",
            "NUMBER_TYPE_COERCE",
        ),
        (
            with_option(json!({"type": 10, "name": "o", "description": "d", "choices": [{"name": "a", "value": "x"}]})),
            "options.0.choices.0.value",
            "NUMBER_TYPE_COERCE",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "choices": [{"name": "", "value": "x"}]})),
            "options.0.choices.0.name",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "choices": [{"name": "a"}]})),
            "options.0.choices.0.value",
            "BASE_TYPE_REQUIRED",
        ),
        (
            with_option(
                json!({"type": 3, "name": "o", "description": "d", "autocomplete": true, "choices": [{"name": "a", "value": "a"}]}),
            ),
            "options.0.autocomplete",
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
        ),
        (
            with_option(json!({"type": 6, "name": "o", "description": "d", "autocomplete": true})),
            "options.0.autocomplete",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "min_value": 1})),
            "options.0.min_value",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(json!({"type": 4, "name": "o", "description": "d", "min_value": 1.5})),
            "options.0.min_value",
            "NUMBER_TYPE_COERCE",
        ),
        (
            with_option(json!({"type": 4, "name": "o", "description": "d", "min_value": 5, "max_value": 1})),
            "options.0.min_value",
            "NUMBER_TYPE_MAX",
        ),
        (
            with_option(json!({"type": 4, "name": "o", "description": "d", "max_value": 9007199254740992_i64})),
            "options.0.max_value",
            "NUMBER_TYPE_COERCE",
        ),
        (
            with_option(json!({"type": 4, "name": "o", "description": "d", "min_length": 1})),
            "options.0.min_length",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "max_length": 6001})),
            "options.0.max_length",
            "NUMBER_TYPE_MAX",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "max_length": 0})),
            "options.0.max_length",
            "NUMBER_TYPE_MAX",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "min_length": 10, "max_length": 5})),
            "options.0.min_length",
            "NUMBER_TYPE_MAX",
        ),
        (
            with_option(json!({"type": 3, "name": "o", "description": "d", "channel_types": [0]})),
            "options.0.channel_types",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(json!({"type": 7, "name": "o", "description": "d", "channel_types": [0, 99]})),
            "options.0.channel_types.1",
            "BASE_TYPE_CHOICES",
        ),
        (
            with_option(
                json!({"type": 3, "name": "o", "description": "d", "options": [{"type": 3, "name": "p", "description": "d"}]}),
            ),
            "options.0.options",
            "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
        ),
        (
            with_option(json!({"type": 1, "name": "sub", "description": "d", "required": true})),
            "options.0.required",
            "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 3, "name": "a", "description": "d"},
                {"type": 3, "name": "b", "description": "d", "required": true}
            ]}),
            "options.1.required",
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 3, "name": "a", "description": "d"},
                {"type": 5, "name": "a", "description": "d"}
            ]}),
            "options.1.name",
            "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 1, "name": "sub", "description": "d"},
                {"type": 3, "name": "text", "description": "d"}
            ]}),
            "options.1.type",
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 2, "name": "group", "description": "d", "options": [{"type": 3, "name": "text", "description": "d"}]}
            ]}),
            "options.0.options.0.type",
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 1, "name": "sub", "description": "d", "options": [{"type": 1, "name": "deeper", "description": "d"}]}
            ]}),
            "options.0.options.0.type",
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
        (
            json!({"name": "cmd", "description": "d", "options": [
                {"type": 2, "name": "group", "description": "d", "options": [
                    {"type": 1, "name": "sub", "description": "d", "options": [{"type": 3, "name": "Bad", "description": "d"}]}
                ]}
            ]}),
            "options.0.options.0.options.0.name",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (json!([]), "", "DICT_TYPE_CONVERT"),
        (
            // 4 × 25 choices of 100 + 100 characters: each within its
            // limits, 20,000 characters in all.
            json!({"name": "cmd", "description": "d", "options": (0..4).map(|i| json!({
                "type": 3, "name": format!("o{i}"), "description": "d",
                "choices": (0..25).map(|j| json!({"name": format!("{j:0>100}"), "value": format!("{j:0>100}")})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()}),
            "",
            "APPLICATION_COMMAND_TOO_LARGE",
        ),
    ];
    let mut failures = Vec::new();
    for (body, at, code) in &cases {
        let result = app.post(&path, &w.bot.token, body.clone()).await;
        let mut node = &result.1["errors"];
        for part in at.split('.').filter(|p| !p.is_empty()) {
            node = &node[part];
        }
        let codes: Vec<&str> =
            node["_errors"].as_array().into_iter().flatten().filter_map(|e| e["code"].as_str()).collect();
        if result.0 != StatusCode::BAD_REQUEST || result.1["code"] != 50035 || !codes.contains(code) {
            failures.push(format!("{body} → expected {code} at `{at}`, got {} {}", result.0, result.1));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let (_, list) = app.get(&path, &w.bot.token).await;
    assert_eq!(list, json!([]), "no refused command was stored");

    // The edges that pass: 32-character and non-Latin names, 25 options,
    // 25 choices, a group of subcommands, nesting and ordering done right.
    let fine = json!({
        "name": "é".repeat(32),
        "description": "d".repeat(100),
        "name_localizations": {"hi": "नमस्ते", "th": "สวัสดี", "ja": "こんにちは", "zh-CN": "你好"},
        "options": [
            {"type": 2, "name": "group", "description": "g", "options": [
                {"type": 1, "name": "one", "description": "s", "options": [
                    {"type": 3, "name": "req", "description": "r", "required": true},
                    {"type": 3, "name": "choice", "description": "c", "choices": (0..25).map(|i| json!({"name": format!("c{i}"), "value": format!("v{i}")})).collect::<Vec<_>>()}
                ]},
                {"type": 1, "name": "two", "description": "s"}
            ]},
            {"type": 1, "name": "top", "description": "s", "options": (0..25).map(|i| json!({"type": 5, "name": format!("o{i}"), "description": "d"})).collect::<Vec<_>>()}
        ]
    });
    let (status, made) = app.post(&path, &w.bot.token, fine).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["options"][0]["options"][0]["options"][1]["choices"].as_array().unwrap().len(), 25);
    assert_eq!(made["options"][1]["options"].as_array().unwrap().len(), 25);
    let (status, number) = app
        .post(&path, &w.bot.token, with_option(json!({"type": 10, "name": "n", "description": "d", "choices": [{"name": "two and a half", "value": 2.5}, {"name": "one", "value": 1}]})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{number}");
    assert_eq!(number["options"][0]["choices"][0]["value"], 2.5);
}

#[tokio::test]
async fn only_the_applications_own_bot_reaches_its_commands() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (_, created) = app.post(&global(&w), &w.bot.token, json!({"name": "mine", "description": "d"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, guild_cmd) = app.post(&in_guild(&w), &w.bot.token, json!({"name": "here", "description": "d"})).await;
    let guild_id = guild_cmd["id"].as_str().unwrap().to_owned();

    // Another application's bot, and the owner as a person: 50001.
    for token in [&w.other_bot.token, &w.owner.token] {
        assert_error(&app.get(&global(&w), token).await, 403, 50001);
        assert_error(&app.post(&global(&w), token, json!({"name": "theirs", "description": "d"})).await, 403, 50001);
        assert_error(&put(&app, &global(&w), token, json!([])).await, 403, 50001);
        assert_error(&app.patch(&format!("{}/{id}", global(&w)), token, json!({"description": "x"})).await, 403, 50001);
        assert_error(&app.delete(&format!("{}/{id}", global(&w)), token).await, 403, 50001);
        assert_error(&app.get(&in_guild(&w), token).await, 403, 50001);
    }
    assert_error(&app.get(&global(&w), "Bot nonsense").await, 401, 40001);
    let (_, still) = app.get(&global(&w), &w.bot.token).await;
    assert_eq!(still.as_array().unwrap().len(), 1);

    // A guild the bot is not in: 50001; one that does not exist: 10004.
    let foreign = format!("/applications/{}/guilds/{}/commands", w.bot.id, w.foreign);
    assert_error(&app.get(&foreign, &w.bot.token).await, 403, 50001);
    assert_error(&app.post(&foreign, &w.bot.token, json!({"name": "x", "description": "d"})).await, 403, 50001);
    assert_error(&put(&app, &foreign, &w.bot.token, json!([])).await, 403, 50001);
    assert_error(&app.get(&format!("{foreign}/permissions"), &w.bot.token).await, 403, 50001);
    let nowhere = format!("/applications/{}/guilds/1234567890123/commands", w.bot.id);
    assert_error(&app.get(&nowhere, &w.bot.token).await, 404, 10004);

    // A global command is not the guild's, nor the other way round.
    assert_error(&app.get(&format!("{}/{id}", in_guild(&w)), &w.bot.token).await, 404, 10063);
    assert_error(&app.get(&format!("{}/{guild_id}", global(&w)), &w.bot.token).await, 404, 10063);
    assert_error(&app.delete(&format!("{}/{guild_id}", global(&w)), &w.bot.token).await, 404, 10063);

    // Permissions answer Discord's shape, with nothing set.
    let (status, all) = app.get(&format!("{}/permissions", in_guild(&w)), &w.bot.token).await;
    assert_eq!((status, all), (StatusCode::OK, json!([])));
    for cmd in [&id, &guild_id] {
        let (status, perms) = app.get(&format!("{}/{cmd}/permissions", in_guild(&w)), &w.bot.token).await;
        assert_eq!(status, StatusCode::OK, "{perms}");
        assert_eq!(perms, json!({"id": cmd, "application_id": w.bot.id, "guild_id": w.guild, "permissions": []}));
    }
    assert_error(&app.get(&format!("{}/1234567890123/permissions", in_guild(&w)), &w.bot.token).await, 404, 10063);

    // A bot removed from the guild loses its guild commands' routes; the
    // guild's deletion takes the commands.
    let (status, _) = app.delete(&format!("/guilds/{}", w.guild), &w.owner.token).await;
    assert!(status.is_success(), "{status}");
    assert_error(&app.get(&in_guild(&w), &w.bot.token).await, 404, 10004);
    let (_, global_list) = app.get(&global(&w), &w.bot.token).await;
    assert_eq!(global_list.as_array().unwrap().len(), 1, "global commands stay");
}

#[tokio::test]
async fn malformed_ids_and_bodies_are_discord_errors_that_change_nothing() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (_, created) = app.post(&global(&w), &w.bot.token, ping()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut fails = Vec::new();
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999", "%F0%9F%98%80"] {
        let cases = [
            (Method::GET, format!("/applications/{bad}/commands"), "application_id"),
            (Method::GET, format!("{}/{bad}", global(&w)), "command_id"),
            (Method::PATCH, format!("{}/{bad}", global(&w)), "command_id"),
            (Method::DELETE, format!("{}/{bad}", global(&w)), "command_id"),
            (Method::GET, format!("/applications/{}/guilds/{bad}/commands", w.bot.id), "guild_id"),
            (Method::GET, format!("{}/{bad}/permissions", in_guild(&w)), "command_id"),
        ];
        for (method, path, field) in cases {
            let body = (method == Method::PATCH).then(|| json!({}));
            let result = app.call(method.clone(), &path, Some(&w.bot.token), body).await;
            let ok = result.0 == StatusCode::BAD_REQUEST
                && result.1["code"] == 50035
                && result.1["errors"][field].is_object();
            if !ok {
                fails.push(format!("{method} {path}: {} {}", result.0, result.1));
            }
        }
    }
    // Bodies that are not JSON, not objects, or of the wrong types.
    for (method, path, body) in [
        (Method::POST, global(&w), b"{\"name\":".to_vec()),
        (Method::POST, global(&w), b"not json".to_vec()),
        (Method::PUT, global(&w), b"[{]".to_vec()),
        (Method::PATCH, format!("{}/{id}", global(&w)), b"[1,2]".to_vec()),
        (Method::POST, global(&w), serde_json::to_vec(&json!({"name": "ping", "description": "d", "options": [{"type": 3, "name": "x", "description": "d", "choices": [[]]}]})).unwrap()),
        (Method::POST, global(&w), serde_json::to_vec(&json!({"name": ["ping"], "description": {"a": 1}})).unwrap()),
        (Method::POST, global(&w), serde_json::to_vec(&json!({"name": "ping", "description": "d", "options": [{"type": "3", "name": "x", "description": "d"}]})).unwrap()),
        (Method::POST, global(&w), serde_json::to_vec(&json!({"name": "ping", "description": "d", "default_member_permissions": -1})).unwrap()),
        (Method::POST, global(&w), serde_json::to_vec(&json!({"name": "ping", "description": "d", "options": [{"type": 4, "name": "n", "description": "d", "min_value": "1"}]})).unwrap()),
    ] {
        let result = app.raw(method.clone(), &path, Some(&w.bot.token), Some(body.clone())).await;
        if result.0 != StatusCode::BAD_REQUEST || !result.1["code"].is_u64() {
            fails.push(format!("{method} {path} {}: {} {}", String::from_utf8_lossy(&body), result.0, result.1));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    let (_, after) = app.get(&format!("{}/{id}", global(&w)), &w.bot.token).await;
    assert_eq!(after, created, "nothing changed");
    let (_, list) = app.get(&global(&w), &w.bot.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_creates_keep_names_unique_and_counts_within_the_limit() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let path = in_guild(&w);
    // Ten creates of one name at once: one command, made once (one 201).
    let same =
        (0..10).map(|i| app.post(&path, &w.bot.token, json!({"name": "race", "description": format!("try {i}")})));
    let results = futures::future::join_all(same).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert!(results.iter().all(|(s, b)| s.is_success() && b["name"] == "race"), "{results:?}");
    assert_eq!(created, 1, "{results:?}");
    let ids: std::collections::BTreeSet<_> = results.iter().map(|(_, b)| b["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "every answer names the one command");
    // Ten different user commands at once: five fit, five are refused.
    let menus = (0..10).map(|i| app.post(&path, &w.bot.token, json!({"type": 2, "name": format!("Menu {i}")})));
    let results = futures::future::join_all(menus).await;
    let made = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let refused = results.iter().filter(|(s, b)| s.as_u16() == 400 && b["code"] == 30032).count();
    assert_eq!((made, refused), (5, 5), "{results:?}");
    let (_, list) = app.get(&path, &w.bot.token).await;
    let kinds: Vec<u64> = list.as_array().unwrap().iter().map(|c| c["type"].as_u64().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == 2).count(), 5);
    assert_eq!(kinds.iter().filter(|k| **k == 1).count(), 1);
}
