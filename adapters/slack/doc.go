// Package slack is SecGPT's Slack adapter. It connects to Slack over Socket
// Mode (no public URL), turns direct messages and app mentions into
// chat.Messages for a chat.Assistant (the hub), posts answers as mrkdwn in
// the DM or the mention's thread, and renders permission prompts as Block
// Kit messages whose buttons are delivered back through Assistant.Answer.
//
// Each Slack user is a separate SecGPT user, "slack:<team>/<user>". Only
// cli/ (the wiring) imports this package; tests use internal/slackfake, a
// local server that speaks Slack's wire protocol.
package slack
