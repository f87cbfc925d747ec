#!/bin/sh
# azd preprovision hook: registers (or finds) the Entra app that callers' tokens are issued for, and
# stores AUTH_ISSUER / AUTH_AUDIENCE in the azd environment for infra/main.parameters.json.
# Bicep cannot create app registrations. Needs the Azure CLI signed in (`az login`) to the tenant
# whose users will call the API, with the right to register applications. Safe to run again.
# Also runnable by hand: AZURE_ENV_NAME=dev ./infra/hooks/register-api-app.sh
set -eu

if [ -n "${AUTH_ISSUER:-}" ] && [ -n "${AUTH_AUDIENCE:-}" ]; then
  echo "register-api-app: AUTH_ISSUER and AUTH_AUDIENCE already set; nothing to do."
  exit 0
fi

command -v az >/dev/null 2>&1 || { echo "register-api-app: the Azure CLI (az) is needed" >&2; exit 1; }
new_id() { uuidgen 2>/dev/null | tr 'A-Z' 'a-z' || python3 -c 'import uuid; print(uuid.uuid4())'; }

name="acs-token-service-${AZURE_ENV_NAME:-dev}"
tenant_id=$(az account show --query tenantId --output tsv)

app_id=$(az ad app list --display-name "$name" --query "[0].appId" --output tsv)
if [ -z "$app_id" ]; then
  echo "register-api-app: registering Entra app $name"
  app_id=$(az ad app create --display-name "$name" --sign-in-audience AzureADMyOrg --query appId --output tsv)
else
  echo "register-api-app: found Entra app $name ($app_id)"
fi
object_id=$(az ad app show --id "$app_id" --query id --output tsv)

# Keep the ids of an existing scope and role so that a second run changes nothing.
scope_id=$(az ad app show --id "$app_id" --query "api.oauth2PermissionScopes[?value=='access_as_user'].id | [0]" --output tsv)
[ -n "$scope_id" ] || scope_id=$(new_id)
role_id=$(az ad app show --id "$app_id" --query "appRoles[?value=='TokenService.Admin'].id | [0]" --output tsv)
[ -n "$role_id" ] || role_id=$(new_id)

# App ID URI, v2 access tokens (iss = .../v2.0, aud = the app's client id), the delegated scope
# frontends ask for, and the admin app role (AUTH_ADMIN_ROLE), through Microsoft Graph.
body=$(cat <<JSON
{
  "identifierUris": ["api://$app_id"],
  "api": {
    "requestedAccessTokenVersion": 2,
    "oauth2PermissionScopes": [{
      "id": "$scope_id", "value": "access_as_user", "type": "User", "isEnabled": true,
      "adminConsentDisplayName": "Get ACS tokens as the signed-in user",
      "adminConsentDescription": "Lets the app get Azure Communication Services tokens for the signed-in user.",
      "userConsentDisplayName": "Get ACS tokens as you",
      "userConsentDescription": "Lets the app get Azure Communication Services tokens for you."
    }]
  },
  "appRoles": [{
    "id": "$role_id", "value": "TokenService.Admin", "isEnabled": true,
    "allowedMemberTypes": ["User", "Application"],
    "displayName": "Token service administrator",
    "description": "Administers ACS identities through the /api/identities routes."
  }]
}
JSON
)
az rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications/$object_id" \
  --headers "Content-Type=application/json" --body "$body" --output none

# A service principal, so that users and apps can be assigned the admin role.
az ad sp show --id "$app_id" --output none 2>/dev/null || az ad sp create --id "$app_id" --output none

if command -v azd >/dev/null 2>&1; then
  azd env set AUTH_ISSUER "https://login.microsoftonline.com/$tenant_id/v2.0"
  azd env set AUTH_AUDIENCE "$app_id"
fi
echo "register-api-app: AUTH_ISSUER=https://login.microsoftonline.com/$tenant_id/v2.0 AUTH_AUDIENCE=$app_id"
echo "register-api-app: assign operators the TokenService.Admin role under Enterprise applications > $name."
