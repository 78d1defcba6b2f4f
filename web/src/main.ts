import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

// The last theme I chose, painted before the gateway says it again.
const theme = localStorage.getItem("fussioncord.theme");
if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;

mount(App, { target: document.getElementById("app")! });
