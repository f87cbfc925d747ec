// The whole token service in one resource group: `azd up` (see azure.yaml) or
// `az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json`.
// Plain resource declarations, no registry modules, so that tests/infra can check every resource offline.
// One file of about 450 lines on purpose: tests/infra reads the resources, roles, settings and policy together
// (roles name their scopes by symbol); the operator's view is the one module, monitoring.bicep.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name; with the resource group it makes the resource names unique.')
param environmentName string

// Regions that offer Flex Consumption (the official Flex quickstart templates' list; `az functionapp
// list-flexconsumption-locations` has the current one). A region outside it would fail at plan creation.
@description('Region of everything but the ACS resource (which is global). Must offer Flex Consumption.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string = resourceGroup().location

@description('Where ACS keeps its data at rest, e.g. United States, Europe, UK, Australia, Japan.')
param acsDataLocation string = 'United States'

@description('Browser origins allowed to call the function URLs, comma-separated (empty: none).')
param corsAllowedOrigins string = ''

@description('Deny policy on the ACS resource that keeps disableLocalAuth true, so that even code holding its Contributor role cannot turn access keys back on. The deployer then needs Microsoft.Authorization/policyAssignments/write (Owner or Resource Policy Contributor).')
param enforceAcsLocalAuthDisabled bool = true

@description('Email address the alerts notify (creates an action group); empty: none.')
param alertEmail string = ''

@description('Resource id of an existing action group the alerts notify as well; empty: none.')
param alertActionGroupId string = ''

@description('Flex Consumption: instances the app may scale out to (the platform allows 1 to 1000).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory per instance.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// App settings, with the defaults of docs/settings.md. Token_service/settings.py validates them at start.
@minLength(1)
@description('AUTH_ISSUER: OIDC issuer of caller tokens, e.g. https://login.microsoftonline.com/<tenant>/v2.0 (set by infra/hooks/register-api-app.sh).')
param authIssuer string

@minLength(1)
@description('AUTH_AUDIENCE: expected aud of caller tokens; for Entra v2 tokens the API app\'s client id (set by the hook).')
param authAudience string

@description('AUTH_ADMIN_ROLE: app role that admin routes require.')
param authAdminRole string = 'TokenService.Admin'

@description('AUTH_REQUIRED_SCOPE: delegated scope user routes require in scp (the hook exposes it on the API app).')
param authRequiredScope string = 'access_as_user'

@description('TEAMS_APP_ID: Entra app (client) id for the Teams token exchange; empty turns the route off.')
param teamsAppId string = ''

@description('REGISTRY_TABLE: Table Storage table of the identity registry.')
param registryTable string = 'acsidentities'

@description('ALLOWED_SCOPES: ACS token scopes callers may ask for.')
param allowedScopes string = 'chat,voip'

@description('DEFAULT_TOKEN_MINUTES: token lifetime when not asked for (60-1440).')
param defaultTokenMinutes string = '60'

@description('TOKEN_RATE_PER_MINUTE: POST /api/token calls per user per minute, across all instances.')
param tokenRatePerMinute string = '30'

@description('TEAMS_TOKEN_RATE_PER_MINUTE: POST /api/token/teams calls per user per minute, across all instances.')
param teamsTokenRatePerMinute string = '30'

@description('DELETE_RATE_PER_MINUTE: DELETE /api/me calls per user per minute, across all instances.')
param deleteRatePerMinute string = '5'

@description('STALE_IDENTITY_DAYS: an identity with no token issued for this long is stale.')
param staleIdentityDays string = '30'

@description('TOMBSTONE_RETENTION_DAYS: a deleted identity\'s tombstone is kept this long for audit, then purged by the cleanup.')
param tombstoneRetentionDays string = '30'

@minLength(11)
@description('CLEANUP_SCHEDULE: NCRONTAB (6 fields, seconds first) of the cleanup timer. Required: the host resolves %CLEANUP_SCHEDULE%.')
param cleanupSchedule string = '0 0 3 * * *'

@minLength(11)
@description('CLEANUP_REPAIR_SCHEDULE: NCRONTAB of the repair pass that finishes deletions a crash left half done (hourly). Required: the host resolves %CLEANUP_REPAIR_SCHEDULE%.')
param cleanupRepairSchedule string = '0 30 * * * *'

@description('CLEANUP_DRY_RUN: report what the cleanup would delete, change nothing.')
@allowed(['true', 'false'])
param cleanupDryRun string = 'false'

@description('CLEANUP_MAX_PER_RUN: identities one cleanup run handles at most; at most CLEANUP_ACS_CALLS_PER_SECOND x CLEANUP_TIME_BUDGET_SECONDS (10 x 240).')
param cleanupMaxPerRun string = '2400'

@description('CLEANUP_TIME_BUDGET_SECONDS: a run starts no new work after this (below functionTimeout).')
param cleanupTimeBudgetSeconds string = '240'

@description('CLEANUP_ACS_CALLS_PER_SECOND: pace of revokes and of deletes (10/s = 300 of ACS 500 per 30 s, 40% left to users).')
param cleanupAcsCallsPerSecond string = '10'

// Built-in role definition ids (Azure RBAC built-in roles; held by tests/infra/test_contract.py).
var roleContributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c' // Contributor
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher

// Built-in policy 'Communication services resource should have local authentication methods disabled'
// (Audit, Deny or Disabled; Azure Policy built-in definitions, category Communication).
var policyAcsDisableLocalAuth = 'fc264132-db9c-4302-bb7d-3994c36461fe'

var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-acstoken-${resourceToken}'
var deploymentContainerName = 'app-package'
// CORS origins as typed (`a, b`): blanks removed (an origin has none; no lambdas, which checkov's Bicep parser lacks).
var corsOriginsText = replace(replace(trim(corsAllowedOrigins), ' ', ''), '\t', '')
var corsOrigins = empty(corsOriginsText) ? [] : split(corsOriginsText, ',')

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-acstoken-${resourceToken}'
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false // Entra ID only: the app and the host use the managed identity
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource registry 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = {
  parent: tableService
  name: registryTable
}

resource acs 'Microsoft.Communication/communicationServices@2025-09-01' = {
  name: 'acs-acstoken-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: acsDataLocation
    disableLocalAuth: true // Entra ID only: the access keys and connection strings cannot be used
  }
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-acstoken-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-acstoken-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true // telemetry is accepted only with an Entra token (Monitoring Metrics Publisher)
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: 'plan-acstoken-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13' // Azure runs 3.13+ apps in azure-functions-runtime, the worker `make test` proves the app in
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: false
      }
      appSettings: [
        // The host's own storage (timer leases, function keys: blobs; no queues without Durable Functions or
        // MCP triggers), identity-based, never a connection string. The table URI is the registry's (the app).
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
        // Telemetry with Entra auth (the component has local auth disabled).
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        // The app (token_service/settings.py).
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'ACS_CREDENTIAL', value: 'managed_identity' }
        { name: 'COMMUNICATION_SERVICES_ENDPOINT', value: 'https://${acs.properties.hostName}' }
        { name: 'REGISTRY_TABLE', value: registryTable }
        { name: 'AUTH_ISSUER', value: authIssuer }
        { name: 'AUTH_AUDIENCE', value: authAudience }
        { name: 'AUTH_ADMIN_ROLE', value: authAdminRole }
        { name: 'AUTH_REQUIRED_SCOPE', value: authRequiredScope }
        { name: 'TEAMS_APP_ID', value: teamsAppId }
        { name: 'ALLOWED_SCOPES', value: allowedScopes }
        { name: 'DEFAULT_TOKEN_MINUTES', value: defaultTokenMinutes }
        { name: 'TOKEN_RATE_PER_MINUTE', value: tokenRatePerMinute }
        { name: 'TEAMS_TOKEN_RATE_PER_MINUTE', value: teamsTokenRatePerMinute }
        { name: 'DELETE_RATE_PER_MINUTE', value: deleteRatePerMinute }
        { name: 'STALE_IDENTITY_DAYS', value: staleIdentityDays }
        { name: 'TOMBSTONE_RETENTION_DAYS', value: tombstoneRetentionDays }
        { name: 'CLEANUP_SCHEDULE', value: cleanupSchedule }
        { name: 'CLEANUP_REPAIR_SCHEDULE', value: cleanupRepairSchedule }
        { name: 'CLEANUP_DRY_RUN', value: cleanupDryRun }
        { name: 'CLEANUP_MAX_PER_RUN', value: cleanupMaxPerRun }
        { name: 'CLEANUP_TIME_BUDGET_SECONDS', value: cleanupTimeBudgetSeconds }
        { name: 'CLEANUP_ACS_CALLS_PER_SECOND', value: cleanupAcsCallsPerSecond }
      ]
    }
  }
  dependsOn: [
    deploymentContainer
    registry
  ]
}

// Basic-auth publishing (FTP, SCM) is off: azd and Core Tools deploy with Entra ID.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// ACS documents Contributor as the role that lets an Entra ID principal (here the managed identity)
// call the Communication Identity API (create identities, issue/revoke tokens): Microsoft.Communication
// defines no data actions, so no narrower role exists. Scoped to this one resource. Contributor includes
// communicationServices/write and the key actions (list, regenerate): the deny policy below keeps local auth off,
// so keys that compromised code lists or regenerates still authenticate nothing.
resource acsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acs.id, identity.id, roleContributor)
  scope: acs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Deployment package container, timer leases and host state (blobs).
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roleStorageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The identity registry (REGISTRY_TABLE), and no other table of the account.
resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, roleStorageTableDataContributor)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Deny any create or update of the ACS resource that would turn local auth (access keys) back on.
// Contributor cannot remove policy assignments (its NotActions exclude Microsoft.Authorization writes).
resource acsLocalAuthPolicy 'Microsoft.Authorization/policyAssignments@2025-03-01' = if (enforceAcsLocalAuthDisabled) {
  name: 'acs-local-auth-disabled-${resourceToken}'
  scope: acs
  properties: {
    displayName: 'ACS ${acs.name}: local authentication stays disabled'
    description: 'Keeps disableLocalAuth true on the token service\'s ACS resource (infra/main.bicep).'
    policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', policyAcsDisableLocalAuth)
    enforcementMode: 'Default'
    parameters: {
      effect: {
        value: 'Deny'
      }
    }
    nonComplianceMessages: [
      {
        message: 'The token service\'s ACS resource must keep local authentication (access keys) disabled.'
      }
    ]
  }
}

// What an operator watches: alert rules on the app's log lines and a workbook of its metrics.
module monitoring 'monitoring.bicep' = {
  name: 'monitoring-${resourceToken}'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    appInsightsId: appInsights.id
    alertEmail: alertEmail
    alertActionGroupId: alertActionGroupId
  }
}

var baseUrl = 'https://${functionApp.properties.defaultHostName}/api'

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = functionApp.name
output SERVICE_API_NAME string = functionApp.name
output AZURE_CLIENT_ID string = identity.properties.clientId
output COMMUNICATION_SERVICES_ENDPOINT string = 'https://${acs.properties.hostName}'
output FUNCTION_BASE_URL string = baseUrl
output TOKEN_URL string = '${baseUrl}/token'
output TEAMS_TOKEN_URL string = '${baseUrl}/token/teams'
output ME_URL string = '${baseUrl}/me'
output IDENTITIES_URL string = '${baseUrl}/identities'
output HEALTH_URL string = '${baseUrl}/health'
output OPENAPI_URL string = '${baseUrl}/openapi.json'
// The postprovision hook waits until this assignment is old enough to be in force (first deploy).
output STORAGE_ROLE_ASSIGNMENT_ID string = storageBlobOwner.id
output WORKBOOK_ID string = monitoring.outputs.workbookId
