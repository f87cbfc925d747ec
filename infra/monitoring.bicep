// What an operator watches in Azure: log alert rules for what needs a person, and a workbook of the app's
// acs_token_service.* metrics. The queries live in infra/monitoring/ (loaded here verbatim), so that
// tests/infra/test_monitoring_queries.py runs the very text deployed against the lines the app writes.
targetScope = 'resourceGroup'

param location string
param tags object
param resourceToken string

@description('The Application Insights component the app logs and exports metrics to.')
param appInsightsId string

@description('Email address the alerts notify (creates an action group); empty: none.')
param alertEmail string = ''

@description('Resource id of an existing action group the alerts notify as well; empty: none.')
param alertActionGroupId string = ''

resource emailGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-acstoken-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'acstoken'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroups = concat(empty(alertEmail) ? [] : [emailGroup.id], empty(alertActionGroupId) ? [] : [alertActionGroupId])

// Severity: 1 error, 2 warning, 3 informational. Frequency and window are ISO 8601 durations. Each query
// returns a row only when a person should look (threshold: more than 0 rows).
var alerts = [
  {
    name: 'http-5xx'
    title: 'Token service: 5xx answers above 5%'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    query: loadTextContent('monitoring/http_5xx.kql')
  }
  {
    name: 'acs-throttled'
    title: 'Token service: ACS is throttling (upstream_throttled)'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    query: loadTextContent('monitoring/acs_throttled.kql')
  }
  {
    name: 'cleanup-incomplete'
    title: 'Token service: a cleanup run stopped early or failed items'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    query: loadTextContent('monitoring/cleanup_incomplete.kql')
  }
  {
    name: 'unregistered-identities'
    title: 'Token service: ACS identities created without a registry row'
    severity: 2
    frequency: 'PT30M'
    window: 'PT1H'
    query: loadTextContent('monitoring/unregistered_identities.kql')
  }
  {
    name: 'managed-identity'
    title: 'Token service: the managed identity could not get a token'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    query: loadTextContent('monitoring/managed_identity.kql')
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for alert in alerts: {
  name: 'alert-acstoken-${alert.name}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: alert.title
    description: 'See docs: "Operate" > alerts (${alert.name}).'
    severity: alert.severity
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: alert.frequency
    windowSize: alert.window
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}]

resource operatorWorkbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'acs-token-service-workbook', resourceToken)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'ACS token service'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(union(loadJsonContent('monitoring/workbook.json'), { fallbackResourceIds: [appInsightsId] }))
  }
}

output workbookId string = operatorWorkbook.id
output alertRuleNames array = [for (alert, index) in alerts: alertRules[index].name]
